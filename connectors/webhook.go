package connectors

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// ValidHMACSHA256 reports whether hexSig is the lower- or upper-case hex encoding of
// HMAC-SHA256(secret, message). The comparison is constant-time. An empty secret
// never validates, so a connector configured without a webhook secret rejects every
// delivery instead of accepting forgeries.
func ValidHMACSHA256(secret, message []byte, hexSig string) bool {
	if len(secret) == 0 {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(message)
	return hmac.Equal(mac.Sum(nil), got)
}

// SignHMACSHA256 returns the lower-case hex HMAC-SHA256 of message under secret. Tests
// and fakes use it to produce signatures that [ValidHMACSHA256] accepts.
func SignHMACSHA256(secret, message []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(message)
	return hex.EncodeToString(mac.Sum(nil))
}
