package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/blastradius/blastradius/demoapp/catalog"
	"github.com/blastradius/blastradius/demoapp/image"
)

func newImagesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "images",
		Short: "List, build and push the demo app's version images and the harness image",
	}
	cmd.AddCommand(newImagesListCmd(), newImagesBuildCmd(), newImagesPushCmd())
	return cmd
}

// imageEntry is the fixed JSON shape of `images list --json`.
type imageEntry struct {
	Tag         string `json:"tag"`
	Color       string `json:"color"`
	Good        bool   `json:"good"`
	Description string `json:"description"`
}

func newImagesListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the demo app versions and their ground truth",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			if asJSON {
				entries := []imageEntry{}
				for _, v := range catalog.All() {
					entries = append(entries, imageEntry{v.Tag, v.Color, v.Good, v.Description})
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(entries)
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "IMAGE\tCOLOR\tGROUND TRUTH")
			for _, v := range catalog.All() {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Image(), v.Color, v.Description)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array of {tag,color,good,description}")
	return cmd
}

func newImagesBuildCmd() *cobra.Command {
	var out, binary string
	var tags []string
	cmd := &cobra.Command{
		Use:   "build --out DIR",
		Short: "Write an OCI image tarball per version (loadable with docker load or kind load image-archive)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("--out: a directory is required")
			}
			versions, binary, err := demoappInputs(tags, binary)
			if err != nil {
				return err
			}
			paths, err := image.WriteTarballs(out, binary, versions)
			for _, p := range paths {
				fmt.Fprintln(cmd.OutOrStdout(), p)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "directory to write <tag>.tar files into")
	cmd.Flags().StringVar(&binary, "binary", "", "demo app binary (default: demoapp next to this executable)")
	cmd.Flags().StringSliceVar(&tags, "tag", nil, "only these tags (repeatable; default all)")
	return cmd
}

func newImagesPushCmd() *cobra.Command {
	var registry, binary, harnessBinary, harnessTag string
	var tags []string
	var insecure bool
	cmd := &cobra.Command{
		Use:   "push --registry REG",
		Short: "Push every demo app version image and the blastradius image to a registry",
		Long: `Push builds the demo app's version images (or only --tag's) and the
blastradius image (the harness binary as entrypoint, for in-cluster load
workers) and pushes them to REG as REG/blastradius/demoapp:<tag> and
REG/blastradius/blastradius:<blastradius-tag>. Credentials come from the
default keychain (docker's config.json and credential helpers). It prints
each pushed reference and its digest.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if registry == "" {
				return fmt.Errorf("--registry: a registry (host[:port][/path]) is required")
			}
			versions, binary, err := demoappInputs(tags, binary)
			if err != nil {
				return err
			}
			if harnessBinary == "" {
				if harnessBinary, err = os.Executable(); err != nil {
					return fmt.Errorf("--blastradius-binary: %w", err)
				}
			}
			targets, err := image.Targets(binary, versions, harnessBinary, harnessTag)
			if err != nil {
				return err
			}
			for _, t := range targets {
				p, err := image.Push(cmd.Context(), registry, t, image.PushOptions{Insecure: insecure})
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), p.Ref, p.Digest)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&registry, "registry", "", "registry to push to: host[:port][/path], e.g. 127.0.0.1:5000")
	cmd.Flags().StringSliceVar(&tags, "tag", nil, "only these demo app tags (repeatable; default all)")
	cmd.Flags().StringVar(&binary, "binary", "", "demo app binary (default: demoapp next to this executable)")
	cmd.Flags().StringVar(&harnessBinary, "blastradius-binary", "", "blastradius binary for the blastradius image, static (default: this executable)")
	cmd.Flags().StringVar(&harnessTag, "blastradius-tag", image.DefaultHarnessTag, "tag of the blastradius image")
	cmd.Flags().BoolVar(&insecure, "insecure", false, "allow plain http to the registry (loopback, private addresses and localhost get it anyway)")
	return cmd
}

// demoappInputs resolves the --tag and --binary flags of images build and
// push: the catalog, or the versions of tags when any are given, and the
// binary, by default the demo app beside this executable.
func demoappInputs(tags []string, binary string) ([]catalog.Version, string, error) {
	if binary == "" {
		binary = demoappBinary()
	}
	if len(tags) == 0 {
		return catalog.All(), binary, nil
	}
	versions := make([]catalog.Version, 0, len(tags))
	for _, t := range tags {
		v, ok := catalog.Lookup(t)
		if !ok {
			return nil, "", fmt.Errorf("--tag: no demo app version %q (see blastradius images list)", t)
		}
		versions = append(versions, v)
	}
	return versions, binary, nil
}

// demoappBinary finds the demo app built beside this executable by `make build`.
func demoappBinary() string {
	if exe, err := os.Executable(); err == nil {
		return filepath.Join(filepath.Dir(exe), "demoapp")
	}
	return filepath.Join("bin", "demoapp")
}
