package overlayd

import (
	"encoding/json"
	"io"
	"os"
)

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// testLogOut shows daemon logs when DCNET_TEST_LOG is set.
var testLogOut io.Writer = io.Discard

func init() {
	if os.Getenv("DCNET_TEST_LOG") != "" {
		testLogOut = os.Stderr
	}
}
