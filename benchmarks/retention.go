package benchmarks

import (
	"fmt"
	"time"

	"github.com/ehg/hub"
	"github.com/ehg/hub/store"
)

// RetentionOption returns the hub option that keeps delivered (succeeded) events for keep
// and then deletes them, for the soak's -retention flag: a hub.RetentionPolicy on the
// succeeded status, with the background cleaner running every keep/2 (at most once a
// minute, at least once a second) so the table stays near keep's worth of events.
func RetentionOption(keep time.Duration) (hub.Option, error) {
	if keep <= 0 {
		return nil, fmt.Errorf("benchmarks: retention must be positive, got %s", keep)
	}
	interval := min(max(keep/2, time.Second), time.Minute)
	policy := hub.WithRetention(hub.RetentionPolicy{
		Events: map[store.EventStatus]time.Duration{store.StatusSucceeded: keep},
	})
	cleanup := hub.WithCleanup(interval, 0)
	return func(c *hub.Config) error {
		if err := policy(c); err != nil {
			return err
		}
		return cleanup(c)
	}, nil
}
