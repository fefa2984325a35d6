package verifiers

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFormReaderHonoursGODEBUGMaxQueryParams: with GODEBUG
// urlmaxqueryparams below maxParams, a form or query over that bound is
// refused as url.ParseQuery refuses it (the old reader was url.ParseQuery).
// The bound is read from the environment, so the check runs in a child
// process of this test binary.
func TestFormReaderHonoursGODEBUGMaxQueryParams(t *testing.T) {
	if os.Getenv("PAYNOTIFY_GODEBUG_CHILD") == "1" {
		var pairs []string
		for i := range 12 {
			pairs = append(pairs, "p"+string(rune('a'+i))+"=v")
		}
		_, err := parseURLEncoded("form field", strings.Join(pairs, "&"))
		require.ErrorIs(t, err, ErrMalformed)
		require.Contains(t, err.Error(), "number of URL query parameters exceeded limit")
		_, err = parseURLEncoded("form field", strings.Join(pairs[:9], "&"))
		require.NoError(t, err)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestFormReaderHonoursGODEBUGMaxQueryParams$", "-test.count=1")
	cmd.Env = append(os.Environ(), "PAYNOTIFY_GODEBUG_CHILD=1", "GODEBUG=urlmaxqueryparams=10")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "PASS")
}
