// Night Core's Go benchmark guest (GOOS=wasip1 GOARCH=wasm): a CPU-heavy run
// of a sieve of Eratosthenes and SHA-256 over generated data, and a trivial
// mode that only prints (its run time is the Go runtime's start-up).
//
//	gobench cpu     sieve to 8,000,000 and SHA-256 of 64 MiB
//	gobench hello   print one line
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
)

func sieve(n int) int {
	composite := make([]bool, n+1)
	count := 0
	for i := 2; i <= n; i++ {
		if composite[i] {
			continue
		}
		count++
		for j := i * i; j <= n; j += i {
			composite[j] = true
		}
	}
	return count
}

func hashRounds(mib int) string {
	block := make([]byte, 1<<20)
	for i := range block {
		block[i] = byte(i*7 + i>>8)
	}
	h := sha256.New()
	for r := 0; r < mib; r++ {
		block[r] ^= 0x5a
		h.Write(block)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func main() {
	mode := "cpu"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	switch mode {
	case "hello":
		fmt.Println("hello from Go")
	case "cpu":
		fmt.Println("primes:", sieve(8_000_000))
		fmt.Println("sha256:", hashRounds(64))
	default:
		fmt.Fprintln(os.Stderr, "usage: gobench cpu|hello")
		os.Exit(2)
	}
}
