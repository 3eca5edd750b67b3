package deploy_test

import (
	"regexp"
	"testing"
)

// TestDockerDataDirIsPrivate is issue 18 item 5: parley refuses a data
// dir others may write, and the image's /data (copied into a new named
// volume with its mode) is made 0700 where it is created.
func TestDockerDataDirIsPrivate(t *testing.T) {
	private := regexp.MustCompile(`mkdir\s+(-p\s+)?-m\s+0?700\s+(-p\s+)?/out/data\b|chmod\s+0?700\s+/out/data\b`)
	for _, in := range parseDockerfile(t, read(t, "Dockerfile")) {
		if in.Cmd == "RUN" && private.MatchString(in.Args) {
			return
		}
	}
	t.Error("the Dockerfile does not create /out/data (copied to /data) with mode 0700: mkdir -p -m 0700 /out/data")
}
