package hub_test

import (
	"context"
	"fmt"
	"time"

	"github.com/ehg/hub"
	"github.com/ehg/hub/resilience"
)

// Policies as Go values: the compiler checks the field names and types that the JSON
// documents would only reveal at run time; the hub validates the values and stores them as
// the documents.
func ExampleIntegrationConfig_typedPolicies() {
	ctx := context.Background()
	h, err := hub.New(nil)
	if err != nil {
		panic(err)
	}
	defer h.Close(ctx)

	retry := resilience.DefaultRetryConfig()
	retry.MaxRetries = 5
	retry.InitialBackoff = resilience.Duration(2 * time.Second)
	breaker := resilience.DefaultCircuitBreakerConfig()
	breaker.FailureThreshold = 10
	limits := resilience.DefaultRateLimitConfig()
	limits.RequestsPerMinute = 600

	reg, err := h.RegisterIntegration(ctx, hub.IntegrationConfig{
		Name: "erp", Connector: "http", BaseURL: "https://erp.example.com/api",
		RetryPolicy: &retry, BreakerPolicy: &breaker, RateLimitPolicy: &limits,
		HealthPolicy: &hub.HealthCheckConfig{WindowSeconds: 120, ErrorRateCritical: 0.2},
	})
	if err != nil {
		panic(err)
	}
	stored, err := resilience.ParseRetry(reg.Service.RetryConfig)
	if err != nil {
		panic(err)
	}
	fmt.Println(reg.Service.MaxRetries, stored.InitialBackoff.D())

	// A typed policy and a JSON document that disagree are refused.
	_, err = h.RegisterIntegration(ctx, hub.IntegrationConfig{
		Name: "crm", Connector: "http", BaseURL: "https://crm.example.com",
		RetryPolicy: &retry, Retry: []byte(`{"max_retries": 2}`),
	})
	fmt.Println(err)
	// Output:
	// 5 2s
	// hub: invalid configuration: IntegrationConfig.RetryPolicy: conflicts with IntegrationConfig.Retry: give one of them, or both saying the same
}
