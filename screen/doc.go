// Package screen runs a Bubble Tea model on one remote terminal at a small,
// bounded cost per session.
//
// parley serves hundreds or thousands of full-screen sessions from one
// process. tea.Program is built for one local terminal: per program it keeps
// two full cell buffers of the screen (about 350 KiB at 100x30), builds a
// key-sequence table (about 70 KiB), wakes 60 times a second whether or not
// anything changed, and calls View after every message. Measured with
// cmd/parley-bench, that was most of the memory and all of the idle CPU of an
// idle parley server (BENCHMARKS.md).
//
// A Program here keeps the model's contract (Init, Update, View; tea.Cmd,
// tea.Batch, tea.Quit, tea.Raw) and replaces the rest:
//
//   - Input: one goroutine reads the connection and hands raw bytes to the
//     event loop, which decodes them with ultraviolet's EventDecoder (no
//     table) into tea.KeyPressMsg, tea.PasteMsg and tea.BackgroundColorMsg.
//     Bracketed pastes are bounded (MaxPaste); a lone ESC is a key after
//     EscTimeout.
//   - Frames are event driven: a frame is drawn only when a message arrived,
//     at most once per MinFrameInterval, so a burst of messages becomes one
//     frame and an idle session costs no CPU at all. The first change after
//     a quiet spell is drawn at once.
//   - Output is a line diff: the previous frame is remembered as one hash per
//     row, and only rows whose text changed are rewritten (cursor address,
//     the row, erase to the end). The alternate screen is always used.
//     Rows are written tersely: no reset where no style is on, and the
//     spaces that pad a row are not sent (the row is erased to its end,
//     or was blank already).
//   - Rows are prepared once for the whole server: cutting a row to the
//     width and converting its colours to the terminal's profile is cached
//     by (row, width, profile) in a bounded cache every Program shares, since
//     the same message rows appear on every screen of the same width.
//
// Ownership: the event loop goroutine (Run) owns the model, the decoder and
// the frame state; the reader goroutine owns only its read buffer; commands
// run on their own goroutines and talk to the loop through its channel.
// Writes to the terminal happen on the loop: a client that stops reading
// blocks its own loop and nothing else, and its room session then overflows
// and ends (room's bounded queues), which closes the connection.
package screen
