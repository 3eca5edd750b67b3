package room

import "strings"

// shortcodes maps the common :shortcodes: (as Slack, GitHub and Discord
// spell them) to emoji. Unknown codes are left as typed.
var shortcodes = map[string]string{
	"+1": "👍", "-1": "👎", "thumbsup": "👍", "thumbsdown": "👎", "ok_hand": "👌", "clap": "👏",
	"wave": "👋", "pray": "🙏", "muscle": "💪", "raised_hands": "🙌", "point_up": "☝️", "v": "✌️",
	"smile": "😄", "smiley": "😃", "grin": "😁", "joy": "😂", "rofl": "🤣", "laughing": "😆",
	"sweat_smile": "😅", "wink": "😉", "blush": "😊", "slightly_smiling_face": "🙂", "upside_down_face": "🙃",
	"heart_eyes": "😍", "kissing_heart": "😘", "yum": "😋", "stuck_out_tongue": "😛", "sunglasses": "😎",
	"thinking": "🤔", "neutral_face": "😐", "expressionless": "😑", "roll_eyes": "🙄", "smirk": "😏",
	"confused": "😕", "worried": "😟", "cry": "😢", "sob": "😭", "angry": "😠", "rage": "😡",
	"scream": "😱", "flushed": "😳", "sleeping": "😴", "mask": "😷", "nerd_face": "🤓",
	"partying_face": "🥳", "exploding_head": "🤯", "facepalm": "🤦", "shrug": "🤷",
	"heart": "❤️", "broken_heart": "💔", "sparkling_heart": "💖", "fire": "🔥", "star": "⭐",
	"sparkles": "✨", "zap": "⚡", "boom": "💥", "100": "💯", "tada": "🎉", "confetti_ball": "🎊",
	"gift": "🎁", "rocket": "🚀", "eyes": "👀", "bug": "🐛", "warning": "⚠️", "x": "❌",
	"white_check_mark": "✅", "heavy_check_mark": "✔️", "question": "❓", "exclamation": "❗",
	"bulb": "💡", "memo": "📝", "lock": "🔒", "key": "🔑", "bell": "🔔", "hourglass": "⌛",
	"coffee": "☕", "tea": "🍵", "beer": "🍺", "beers": "🍻", "pizza": "🍕", "cake": "🍰",
	"sunny": "☀️", "cloud": "☁️", "umbrella": "☔", "snowflake": "❄️", "rainbow": "🌈",
	"cat": "🐱", "dog": "🐶", "penguin": "🐧", "see_no_evil": "🙈", "poop": "💩", "ghost": "👻",
	"skull": "💀", "robot": "🤖", "alien": "👽", "wave_hand": "👋", "handshake": "🤝",
}

// ExpandShortcodes replaces known :shortcodes: in text with their emoji.
func ExpandShortcodes(text string) string {
	if strings.Count(text, ":") < 2 {
		return text
	}
	var b strings.Builder
	rest := text
	for {
		i := strings.IndexByte(rest, ':')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i+1:], ':')
		if j < 0 {
			break
		}
		code := rest[i+1 : i+1+j]
		if e, ok := shortcodes[code]; ok {
			if b.Len() == 0 {
				b.Grow(len(text))
			}
			b.WriteString(rest[:i])
			b.WriteString(e)
			rest = rest[i+j+2:]
			continue
		}
		// Not a code: keep the first colon, and let the second start the
		// next candidate ("at 10:30 :tada:").
		b.WriteString(rest[:i+1])
		rest = rest[i+1:]
	}
	if b.Len() == 0 {
		return text
	}
	b.WriteString(rest)
	return b.String()
}
