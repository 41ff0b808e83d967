//go:build go1.22

// Built only by Go 1.22 and later, and in that file's language version
// (a //go:build go1.22 line raises it above go.mod's 1.19): each iteration
// of a for loop has its own variable there.
package main

import (
	"fmt"
	"runtime"
	"sync"
)

// The loop of loopVariableShared, compiled in Go 1.22's language.
func loopVariableCurrentLanguage() map[string]any {
	got := make([]int, 3)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		k := i
		go func() {
			defer wg.Done()
			<-gate
			got[k] = i
		}()
	}
	close(gate)
	wg.Wait()
	shared := got[0] == 3 && got[1] == 3 && got[2] == 3
	return outcome(shared, fmt.Sprintf("%s, file language go 1.22: the goroutines read i = %v", runtime.Version(), got))
}
