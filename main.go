// Command blastradius measures how much damage a bad release does under each
// progressive-delivery strategy and analyzer before it is stopped.
package main

import (
	"os"

	"github.com/blastradius/blastradius/harness/cli"
)

func main() {
	os.Exit(cli.Execute())
}
