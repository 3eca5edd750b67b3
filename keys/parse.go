package keys

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"parley/safetext"
)

// Limits that keep a hostile or broken file from exhausting memory.
const (
	// MaxLineBytes is the longest line parsed; a longer line is an error for
	// that line. The largest RSA keys take about 3 KiB.
	MaxLineBytes = 16 << 10
	// MaxLines is the largest number of lines read; the rest of a longer file
	// is reported once and ignored.
	MaxLines = 100_000
	// MaxFileBytes is the largest file Store, Seed and Append will read.
	MaxFileBytes = 8 << 20
)

// maxCommentRunes caps Entry.Comment.
const maxCommentRunes = 200

// keyAlgoDSA names DSA keys, which parley refuses with a specific message
// (x/crypto deprecates its constant for the same reason).
const keyAlgoDSA = "ssh-dss"

// keyTypes are the key types parley accepts.
var keyTypes = map[string]bool{
	ssh.KeyAlgoED25519:    true,
	ssh.KeyAlgoSKED25519:  true,
	ssh.KeyAlgoECDSA256:   true,
	ssh.KeyAlgoECDSA384:   true,
	ssh.KeyAlgoECDSA521:   true,
	ssh.KeyAlgoSKECDSA256: true,
	ssh.KeyAlgoRSA:        true,
	ssh.KeyAlgoMLDSA44:    true,
	ssh.KeyAlgoMLDSA65:    true,
	ssh.KeyAlgoMLDSA87:    true,
}

// isKeyTypeToken reports whether s names a key type, including the ones parley
// refuses with a specific message (DSA, certificates).
func isKeyTypeToken(s string) bool {
	return keyTypes[s] || s == keyAlgoDSA || isCertType(s)
}

func isCertType(s string) bool {
	return strings.Contains(s, "-cert-v01@")
}

// ParseBytes parses an authorized_keys file held in memory. See Parse.
func ParseBytes(b []byte) (*Snapshot, []LineError) {
	return Parse(bytes.NewReader(b))
}

// Parse reads an authorized_keys file, one "[options] keytype base64 [comment]"
// per line; blank lines and lines starting with # are skipped. Every problem
// is returned as a LineError in line order: lines with Skipped set were not
// loaded, the others loaded with a warning. Parse never fails as a whole; the
// Snapshot holds every line that could be loaded.
//
// Lines longer than MaxLineBytes are refused, and reading stops after
// MaxLines lines.
func Parse(r io.Reader) (*Snapshot, []LineError) {
	return parse(r, time.Now())
}

func parse(r io.Reader, now time.Time) (*Snapshot, []LineError) {
	b := newBuilder()
	br := bufio.NewReaderSize(r, MaxLineBytes+2) // room for "\r\n"
	for n := 1; ; n++ {
		line, tooLong, err := readLine(br)
		if err != nil && err != io.EOF {
			b.skip(n, fmt.Sprintf("read error: %v; this line and the rest of the file were not loaded", err))
			break
		}
		if len(line) == 0 && !tooLong && err == io.EOF {
			break
		}
		if n > MaxLines {
			b.skip(n, fmt.Sprintf("file has more than %d lines; the rest of the file was ignored", MaxLines))
			break
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if tooLong || len(line) > MaxLineBytes {
			b.skip(n, fmt.Sprintf("line is longer than %d bytes; an authorized_keys line is one key, check for a missing line break", MaxLineBytes))
		} else {
			b.addLine(n, string(line), now)
		}
		if err == io.EOF {
			break
		}
	}
	return b.snapshot(), b.errs
}

// readLine returns the next line including its "\n". A line that does not fit
// the reader's buffer is consumed and reported as tooLong.
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	line, err = br.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return line, false, err
	}
	for err == bufio.ErrBufferFull {
		_, err = br.ReadSlice('\n')
	}
	return nil, true, err
}

// builder accumulates entries and problems in file order.
type builder struct {
	entries []Entry
	byKey   map[string]int // key bytes -> index in entries
	byName  map[string]int // safetext.Fold(name) -> index in entries
	errs    []LineError
}

func newBuilder() *builder {
	return &builder{byKey: map[string]int{}, byName: map[string]int{}}
}

func (b *builder) skip(line int, msg string) {
	b.errs = append(b.errs, LineError{Line: line, Msg: msg, Skipped: true})
}

func (b *builder) warn(line int, msg string) {
	b.errs = append(b.errs, LineError{Line: line, Msg: msg})
}

func (b *builder) snapshot() *Snapshot {
	byFP := make(map[string]int, len(b.entries))
	for i, e := range b.entries {
		byFP[e.Fingerprint] = i
	}
	return &Snapshot{entries: b.entries, byKey: b.byKey, byName: b.byName, byFP: byFP}
}

func (b *builder) addLine(n int, raw string, now time.Time) {
	s := strings.Trim(raw, " \t")
	if s == "" || s[0] == '#' {
		return
	}
	p, err := parseLine(s)
	if err != nil {
		b.skip(n, err.Error())
		return
	}
	fp := ssh.FingerprintSHA256(p.key)
	kb := string(p.key.Marshal())
	if i, dup := b.byKey[kb]; dup {
		b.skip(n, fmt.Sprintf("duplicate of the key on line %d (%s); remove one of them", b.entries[i].Line, fp))
		return
	}

	name := ""
	switch {
	case p.opts.hasName:
		name = p.opts.name // validated by parseOptions
	case p.comment != "":
		local, _, _ := strings.Cut(p.comment, "@")
		if err := safetext.ValidateName(local); err != nil {
			b.warn(n, fmt.Sprintf("comment %s does not give a usable name (%v); the key loads with a default name, add name=\"...\" to choose one", quote(local), err))
		} else {
			name = local
		}
	}
	if name != "" {
		if i, taken := b.byName[safetext.Fold(name)]; taken {
			b.warn(n, fmt.Sprintf("name %s is already used by the key on line %d; this key loads with a default name, give it another name=\"...\"", quote(name), b.entries[i].Line))
			name = ""
		}
	}
	if !p.opts.expires.IsZero() && now.After(p.opts.expires) {
		b.warn(n, fmt.Sprintf("key expired on %s and is refused; change or remove expiry-time to allow it", formatTime(p.opts.expires)))
	}

	e := Entry{
		Key:         p.key,
		Fingerprint: fp,
		Name:        name,
		Admin:       p.opts.admin,
		Line:        n,
		Comment:     safetext.Line(p.comment, maxCommentRunes),
		ExpiresAt:   p.opts.expires,
		From:        p.opts.from,
	}
	b.byKey[kb] = len(b.entries)
	if name != "" {
		b.byName[safetext.Fold(name)] = len(b.entries)
	}
	b.entries = append(b.entries, e)
}

func formatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// parsedLine is one well-formed key line.
type parsedLine struct {
	key     ssh.PublicKey
	opts    options
	comment string
}

// lineSyntax is the reminder appended to structural errors.
const lineSyntax = `expected "[options] keytype base64-key [comment]"`

// parseLine parses a trimmed, non-comment line.
func parseLine(s string) (parsedLine, error) {
	first, rest, err := cutOptionsField(s)
	if err != nil {
		return parsedLine{}, err
	}
	var optField, keyType, data, comment string
	if isKeyTypeToken(first) {
		keyType = first
		data, comment = cutField(rest)
	} else {
		second, rest2 := cutField(rest)
		third, _ := cutField(rest2)
		switch {
		case second == "":
			return parsedLine{}, fmt.Errorf("found a single word %s; %s", quote(first), lineSyntax)
		case isKeyTypeToken(second):
			optField, keyType = first, second
			data, comment = cutField(rest2)
		case strings.HasPrefix(second, "AAAA"):
			return parsedLine{}, unknownKeyType(first)
		case strings.HasPrefix(third, "AAAA"):
			return parsedLine{}, unknownKeyType(second)
		default:
			return parsedLine{}, fmt.Errorf("no key found; %s", lineSyntax)
		}
	}

	switch {
	case isCertType(keyType):
		return parsedLine{}, fmt.Errorf("certificates (%s) are not supported by parley; list the plain public key instead", quote(keyType))
	case keyType == keyAlgoDSA:
		return parsedLine{}, errors.New("DSA keys (ssh-dss) are insecure and not supported; generate a new key with ssh-keygen -t ed25519")
	case data == "":
		return parsedLine{}, fmt.Errorf("missing key data after %s; %s", keyType, lineSyntax)
	}

	opts, err := parseOptions(optField)
	if err != nil {
		return parsedLine{}, err
	}
	blob, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return parsedLine{}, fmt.Errorf("key data is not valid base64 (%v); copy the whole line from the .pub file again", err)
	}
	key, err := ssh.ParsePublicKey(blob)
	if err != nil {
		return parsedLine{}, fmt.Errorf("key data is not a valid %s key (%s); copy the whole line from the .pub file again", keyType, quoteN(err.Error(), 120))
	}
	if _, ok := key.(*ssh.Certificate); ok {
		return parsedLine{}, errors.New("the key data is a certificate, which parley does not support; list the plain public key instead")
	}
	if key.Type() != keyType {
		return parsedLine{}, fmt.Errorf("key type %s does not match the key data, which is %s", keyType, quote(key.Type()))
	}
	return parsedLine{key: key, opts: opts, comment: comment}, nil
}

func unknownKeyType(t string) error {
	return fmt.Errorf("unknown key type %s; parley accepts ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa, their sk- (security key) variants and ssh-mldsa-44/65/87", quote(t))
}

// cutOptionsField splits s at the first space or tab that is not inside double
// quotes, following OpenSSH's sshkey_advance_past_options (\" never toggles
// quoting). rest has its leading blanks removed.
func cutOptionsField(s string) (field, rest string, err error) {
	quoted := false
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if !quoted && (c == ' ' || c == '\t') {
			break
		}
		if c == '\\' && i+1 < len(s) && s[i+1] == '"' {
			i++
		} else if c == '"' {
			quoted = !quoted
		}
	}
	if quoted {
		return "", "", errors.New("options have an unterminated double quote")
	}
	return s[:i], strings.TrimLeft(s[i:], " \t"), nil
}

// cutField returns the first blank-separated field of s and the rest, trimmed.
func cutField(s string) (field, rest string) {
	s = strings.TrimLeft(s, " \t")
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.Trim(s[i:], " \t")
}
