package demoapp

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Colors are the versions' identities, as painted by the page.
var Colors = []string{"blue", "green", "yellow", "orange", "red", "purple"}

// DefaultPort is the port used when only POD_IP is set, and by default.
const DefaultPort = "8080"

// Config is everything a Server needs. Zero values get sensible defaults in New.
type Config struct {
	Color     string // one of Colors; default blue
	Version   string // version name, e.g. "bad-green"; default the color
	Pod       string // pod name reported by /color and in logs
	Namespace string
	Seed      int64 // seeds the fault RNG, so a run is reproducible

	Faults Faults

	// TerminationDelay is how long /readyz reports 503 after a shutdown
	// signal before the server stops, so endpoints drop the pod first.
	TerminationDelay time.Duration
	// ShutdownTimeout bounds the wait for in-flight requests; default 10s.
	ShutdownTimeout time.Duration

	Addr string // listen address, used by the binary; see ConfigFromEnv

	Logger *slog.Logger // request and error logs; default JSON to stdout
	Stderr io.Writer    // fatal crash lines; default os.Stderr
	Exit   func(int)    // ends the process on a crash; default os.Exit
}

// ConfigFromEnv reads COLOR, VERSION, SEED, POD_NAME, POD_NAMESPACE,
// TERMINATION_DELAY, the listen address and the fault variables (see Faults).
// Errors name the offending variable.
//
// The address is LISTEN if set; else POD_IP:PORT when either is set (PORT
// defaults to 8080), so replicas can share a host on distinct loopback
// addresses; else ":8080".
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	env := func(k string) string { return strings.TrimSpace(getenv(k)) }
	cfg := Config{
		Color:     env("COLOR"),
		Version:   env("VERSION"),
		Pod:       env("POD_NAME"),
		Namespace: env("POD_NAMESPACE"),
		Seed:      time.Now().UnixNano(),
	}
	if cfg.Color == "" {
		cfg.Color = "blue"
	}
	if !slices.Contains(Colors, cfg.Color) {
		return Config{}, fmt.Errorf("COLOR: must be one of %s, got %q", strings.Join(Colors, ", "), cfg.Color)
	}
	if cfg.Pod == "" {
		cfg.Pod = env("HOSTNAME") // a container's hostname is its pod's name
	}
	if cfg.Pod == "" {
		cfg.Pod, _ = os.Hostname()
	}
	if s := env("SEED"); s != "" {
		seed, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return Config{}, fmt.Errorf("SEED: invalid integer %q", s)
		}
		cfg.Seed = seed
	}
	if s := env("TERMINATION_DELAY"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return Config{}, fmt.Errorf("TERMINATION_DELAY: invalid duration %q (want e.g. 5s)", s)
		}
		cfg.TerminationDelay = d
	}
	addr, err := listenAddr(env)
	if err != nil {
		return Config{}, err
	}
	cfg.Addr = addr
	if cfg.Faults, err = FaultsFromEnv(getenv); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func listenAddr(env func(string) string) (string, error) {
	if addr := env("LISTEN"); addr != "" {
		return addr, nil
	}
	ip, port := env("POD_IP"), env("PORT")
	if port == "" {
		port = DefaultPort
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("PORT: must be a port number between 1 and 65535, got %q", port)
	}
	if ip != "" && net.ParseIP(ip) == nil {
		return "", fmt.Errorf("POD_IP: not an IP address: %q", ip)
	}
	return net.JoinHostPort(ip, port), nil
}

// withDefaults validates cfg and fills in defaults.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Color == "" {
		cfg.Color = "blue"
	}
	if !slices.Contains(Colors, cfg.Color) {
		return cfg, fmt.Errorf("color must be one of %s, got %q", strings.Join(Colors, ", "), cfg.Color)
	}
	if cfg.Version == "" {
		cfg.Version = cfg.Color
	}
	if err := cfg.Faults.Validate(); err != nil {
		return cfg, fmt.Errorf("faults: %w", err)
	}
	if cfg.TerminationDelay < 0 {
		return cfg, fmt.Errorf("termination delay must not be negative, got %v", cfg.TerminationDelay)
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(os.Stdout, nil))
	}
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	if cfg.Exit == nil {
		cfg.Exit = os.Exit
	}
	return cfg, nil
}
