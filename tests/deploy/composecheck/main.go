// composecheck loads a Compose file the way Docker Compose v2 does (compose-spec/compose-go:
// interpolation, the Compose specification's schema, cross-references such as depends_on) and
// prints the resolved project as JSON. PFlow's tests use it to check deploy/docker-compose.yml
// without a Docker engine.
//
//	composecheck -f deploy/docker-compose.yml [-f OVERRIDE.yml ...] [--env-file FILE]
//
// Exit status 1 with the loader's message when the file is invalid.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	var composeFiles []string
	flag.Func("f", "compose file; repeat for overrides, merged in order as `docker compose -f a -f b` does", func(value string) error {
		composeFiles = append(composeFiles, value)
		return nil
	})
	envFile := flag.String("env-file", "", "environment file used for interpolation (default: .env beside the compose file)")
	flag.Parse()
	if len(composeFiles) == 0 {
		fmt.Fprintln(os.Stderr, "composecheck: -f FILE is required")
		os.Exit(2)
	}
	options := []cli.ProjectOptionsFn{cli.WithName("pflow"), cli.WithOsEnv}
	if *envFile != "" {
		options = append(options, cli.WithEnvFiles(*envFile))
	} else {
		options = append(options, cli.WithEnvFiles())
	}
	options = append(options, cli.WithDotEnv)
	opts, err := cli.NewProjectOptions(composeFiles, options...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, err := project.MarshalJSON()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Stdout.Write(out)
	fmt.Println()
}
