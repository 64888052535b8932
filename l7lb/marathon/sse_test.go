package marathon

import (
	"errors"
	"strings"
	"testing"
)

func TestReadEvents(t *testing.T) {
	tests := []struct {
		name   string
		stream string
		want   []string // event type/app of each event
		err    error
	}{
		{name: "marathon's example", stream: "event: event_stream_attached\r\ndata: {\"eventType\":\"event_stream_attached\"}\r\n\r\n" +
			"event: status_update_event\ndata: {\"appId\":\"/foo\",\"taskStatus\":\"TASK_FAILED\",\"eventType\":\"status_update_event\"}\n\n",
			want: []string{"event_stream_attached/", "status_update_event//foo"}},
		{name: "heartbeats and comments", stream: "\r\n\r\n: keep-alive\n\ndata: {\"eventType\":\"app_terminated_event\",\"appId\":\"/a\"}\n\n",
			want: []string{"app_terminated_event//a"}},
		{name: "two objects in one event", stream: "data: {\"eventType\":\"a\"}\r\ndata: {\"eventType\":\"b\"}\n\n",
			want: []string{"a/", "b/"}},
		{name: "a line that is not a field", stream: "data: {\"eventType\":\"a\"}\r\n{\"eventType\":\"b\"}\n\n",
			err: errGarbage},
		{name: "data split over lines", stream: "data: {\"eventType\":\ndata: \"x\"}\n\n", want: []string{"x/"}},
		{name: "garbage data", stream: "data: {this is not json\n\n", err: errGarbage},
		{name: "event without type", stream: "data: {\"appId\":\"/a\"}\n\n", err: errGarbage},
		{name: "not sse", stream: "<html><body>502</body></html>\n", err: errGarbage},
		{name: "line too long", stream: "data: \"" + strings.Repeat("x", maxEventBytes+10) + "\"\n\n", err: errGarbage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			activity := 0
			err := readEvents(strings.NewReader(tt.stream), func() { activity++ }, func(ev Event) {
				got = append(got, ev.EventType+"/"+ev.AppID)
			})
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err == nil || err.Error() != "EOF" {
				t.Fatalf("err = %v, want EOF at the end", err)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("events %v, want %v", got, tt.want)
			}
			if activity == 0 {
				t.Error("no activity reported")
			}
		})
	}
}
