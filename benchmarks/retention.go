package benchmarks

import (
	"errors"
	"time"

	"github.com/ehg/hub"
)

// ErrNoRetention is returned by RetentionOption while the hub offers no retention policy.
var ErrNoRetention = errors.New("benchmarks: this version of the hub has no retention API")

// RetentionOption returns the hub option that keeps delivered (succeeded) events for keep
// and then deletes them, for the soak's -retention flag. This version of the hub has no
// retention API: it returns ErrNoRetention and the soak runs with every event kept (and
// says so). It is the one place to change when the hub gains retention.
func RetentionOption(keep time.Duration) (hub.Option, error) {
	_ = keep
	return nil, ErrNoRetention
}
