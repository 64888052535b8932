package main

import "testing"

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-short"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Rounds != shortRounds || o.Seq != shortSeq || o.Conc != shortConc || o.Out != "" || o.Workers != defaultWorkers {
		t.Errorf("-short gave %+v", o)
	}
	o, err = parseFlags([]string{"-short", "-seq", "30", "-out", "x.md"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Seq != 30 || o.Out != "x.md" || o.Command != "go run ./bench/cni -short -seq 30 -out x.md" {
		t.Errorf("explicit flags with -short gave %+v", o)
	}
	if _, err := parseFlags([]string{"-conc", "300"}); err == nil {
		t.Errorf("-conc 300 accepted")
	}
}
