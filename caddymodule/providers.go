package caddymodule

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/paynotify/paynotify/verifiers"
)

// providerInfo is one provider as caddy paynotify providers prints it.
type providerInfo struct {
	Name    string       `json:"name"`
	Module  string       `json:"module"`
	Scheme  string       `json:"scheme"`
	Methods []string     `json:"methods"`
	ACK     ackInfo      `json:"ack"`
	AllowIP string       `json:"allow_ip_required,omitempty"`
	Inquire string       `json:"inquire,omitempty"`
	Sign    bool         `json:"sign"`
	Options []optionInfo `json:"options"`
}

type ackInfo struct {
	Status      int    `json:"status"`
	ContentType string `json:"content_type,omitempty"`
	Body        string `json:"body"`
}

type optionInfo struct {
	Name       string `json:"name"`
	Args       string `json:"args"`
	Doc        string `json:"doc"`
	Repeatable bool   `json:"repeatable,omitempty"`
}

// providerInfos describes every provider module in Caddy's registry.
func providerInfos() ([]providerInfo, error) {
	var infos []providerInfo
	for _, name := range verifiers.Providers() {
		p, err := verifiers.LookupProvider(name)
		if err != nil {
			return nil, err
		}
		about, ack := p.About(), p.ACK()
		info := providerInfo{
			Name: name, Module: string(p.CaddyModule().ID), Scheme: about.Scheme, Methods: p.Methods(),
			ACK:     ackInfo{Status: ack.Status, ContentType: ack.ContentType, Body: ack.Body},
			AllowIP: about.AllowIP, Inquire: about.Inquire, Options: []optionInfo{},
		}
		_, info.Sign = p.(verifiers.Signer)
		for _, opt := range p.Options() {
			info.Options = append(info.Options, optionInfo{Name: opt.Name, Args: opt.Args, Doc: opt.Doc, Repeatable: opt.Repeatable})
		}
		infos = append(infos, info)
	}
	return infos, nil
}

func providersCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "providers",
		Short: "Lists the providers built into this caddy: scheme, ACK, options, allow_ip",
		Long: `Lists the provider modules built into this caddy binary (the modules of
the namespace ` + verifiers.Namespace + `, including those added with
xcaddy build --with): how each authenticates a notification, the ACK it
expects, its options, and whether it requires allow_ip.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			infos, err := providerInfos()
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(infos)
			}
			return printProviders(cmd.OutOrStdout(), infos)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printProviders(w io.Writer, infos []providerInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	var common []string
	for name := range handlerOptions {
		common = append(common, name)
	}
	slices.Sort(common)
	fmt.Fprintf(tw, "Every provider also takes the options %s.\n", strings.Join(common, ", "))
	for _, p := range infos {
		fmt.Fprintf(tw, "\n%s\t(%s)\n", p.Name, p.Module)
		fmt.Fprintf(tw, "  scheme\t%s\n", p.Scheme)
		fmt.Fprintf(tw, "  methods\t%s\n", strings.Join(p.Methods, ", "))
		ack := fmt.Sprintf("%d", p.ACK.Status)
		if p.ACK.Body == "" {
			ack += ", empty body"
		} else {
			ack += fmt.Sprintf(" %s %q", p.ACK.ContentType, p.ACK.Body)
		}
		fmt.Fprintf(tw, "  ack\t%s\n", ack)
		allow := "recommended (the provider's published addresses)"
		if p.AllowIP != "" {
			allow = "required " + p.AllowIP
		}
		fmt.Fprintf(tw, "  allow_ip\t%s\n", allow)
		if p.Inquire != "" {
			fmt.Fprintf(tw, "  inquire\t%s\n", p.Inquire)
		}
		if !p.Sign {
			fmt.Fprintf(tw, "  sign\tno test signer: caddy paynotify sign cannot build its notifications\n")
		}
		for i, opt := range p.Options {
			label := ""
			if i == 0 {
				label = "  options"
			}
			usage := opt.Name + " " + opt.Args
			if opt.Repeatable {
				usage += " (repeatable)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", label, usage, opt.Doc)
		}
	}
	return tw.Flush()
}
