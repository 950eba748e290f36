// Package actions performs the lifecycle actions on hosts: power on, off,
// cycle and reboot through their BMCs, and reimage, disk wipe and
// decommission through a BMC and a downstream installer (a
// [Provisioner]). A [Runner] implements lifecycle.Runner: the workers of
// package lifecycle call Runner.Run once per attempt of a job.
//
// Each action is a fixed sequence of named steps ([Steps]), each run
// through lifecycle.Task.Step so that its start, end, outcome and error
// are recorded on the job:
//
//	power-on      power-on, confirm-on
//	power-off     power-off, confirm-off
//	power-cycle   power-cycle, confirm-on
//	reboot        reboot, confirm-on
//	reimage       prepare-deploy, set-pxe-boot, power-cycle, wait-deploy, confirm-deployed
//	wipe-disks    prepare-wipe, set-pxe-boot, power-cycle, wait-wipe, power-off, confirm-off
//	decommission  prepare-wipe, set-pxe-boot, power-cycle, wait-wipe, power-off, confirm-off, release
//
// A power step first waits for a transition in progress (powering on or
// off) to settle, then decides from the settled state. Cycling or
// rebooting a host that is off powers it on: the caller wants it running
// from a fresh boot, which is what powering on gives, while
// bmc.CheckPowerAction would refuse the restart. Confirmation steps poll
// the BMC (bmc.WaitPower) until it reports the wanted state, for at most
// Config.PowerTimeout.
//
// A reimage arms the Provisioner with the batch's snapshot (Task.Snapshot)
// first, so that the installer is ready when the host boots; sets a
// one-time PXE boot, which the driver reads back; power-cycles the host (or
// powers it on); waits for the Provisioner to report the deploy done, for
// at most Config.DeployTimeout; and confirms that the host is on and the
// snapshot deployed. A wipe is the same with a wipe operation, and ends
// with the host powered off. Decommission wipes, powers off and releases
// the host from the Provisioner; the host's state becomes decommissioned
// in the lifecycle store when the job succeeds.
//
// Every step is idempotent in the sense that matters to a retried job:
// running it again is safe and leads to the same end. Every BMC step opens
// its own session through Config.Dial (via bmc.FanOut on one host) and
// always closes it, so no session is held while an installer works.
//
// # Errors
//
// Run marks with lifecycle.Permanent the failures that retrying cannot
// fix, so workers do not retry them: bad input found before any step runs
// (an unknown action, a reimage without a snapshot, a bad "boot-mode"
// parameter, no Provisioner; all wrapping [ErrInvalidParams] or
// [ErrNoProvisioner]), and steps failing with bmc.ErrAuth,
// bmc.ErrNotFound, bmc.ErrUnsupported, bmc.ErrInvalidPowerAction,
// bmc.ErrInvalidArgument, [ErrInvalidRequest], [ErrUnknownHost],
// [ErrUnknownSnapshot], an error the Provisioner marked permanent, or an
// operation it reports failed for good. With a bmc.Client of several
// drivers a failure is permanent only when every driver failed
// permanently. Everything else is retried: unreachable BMCs, a boot
// override the BMC dropped (bmc.ErrBootNotApplied), an operation that
// failed ([ErrOperationFailed]), a step past its own timeout
// ([ErrStepTimeout], which does not wrap context.DeadlineExceeded, so it is
// not taken for the job's deadline).
//
// After a permanent failure of a reimage, wipe or decommission whose
// Provisioner was already armed, Run releases the host from the
// Provisioner (not a recorded step), so the prepared operation cannot run
// at some later network boot. Other failures leave it armed: the job is
// retried and prepares again.
//
// When ctx ends, the step that runs stops promptly, is recorded as
// cancelled, and Run returns an error wrapping ctx.Err(). Errors name the
// action, the host and the step, never a credential.
//
// # Concurrency
//
// A Runner is safe for concurrent use; workers run many jobs through one.
// Provisioners must be safe for concurrent use.
package actions
