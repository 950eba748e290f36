package bmc_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/bmc"
)

func TestWaitPower(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := 0
	settles := func(context.Context) (bmc.PowerState, error) {
		n++
		if n < 3 {
			return bmc.PowerPoweringOn, nil
		}
		return bmc.PowerOn, nil
	}
	require.NoError(t, bmc.WaitPower(ctx, bmc.PowerOn, time.Millisecond, time.Second, settles))
	require.Equal(t, 3, n)

	stuck := func(context.Context) (bmc.PowerState, error) { return bmc.PowerOff, nil }
	err := bmc.WaitPower(ctx, bmc.PowerOn, time.Millisecond, 10*time.Millisecond, stuck)
	require.ErrorContains(t, err, "still reports off after 10ms")

	boom := errors.New("BMC gone")
	err = bmc.WaitPower(ctx, bmc.PowerOn, time.Millisecond, time.Second, func(context.Context) (bmc.PowerState, error) { return "", boom })
	require.Same(t, boom, err, "a read error is returned as it is")

	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(10*time.Millisecond, cancel)
	err = bmc.WaitPower(cctx, bmc.PowerOn, time.Millisecond, time.Hour, stuck)
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "waiting for on (now off)")
}
