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
		Short: "List and build the demo app's version images",
	}
	cmd.AddCommand(newImagesListCmd(), newImagesBuildCmd())
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
			versions := catalog.All()
			if len(tags) > 0 {
				versions = versions[:0]
				for _, t := range tags {
					v, ok := catalog.Lookup(t)
					if !ok {
						return fmt.Errorf("--tag: no demo app version %q (see blastradius images list)", t)
					}
					versions = append(versions, v)
				}
			}
			if binary == "" {
				binary = demoappBinary()
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

// demoappBinary finds the demo app built beside this executable by `make build`.
func demoappBinary() string {
	if exe, err := os.Executable(); err == nil {
		return filepath.Join(filepath.Dir(exe), "demoapp")
	}
	return filepath.Join("bin", "demoapp")
}
