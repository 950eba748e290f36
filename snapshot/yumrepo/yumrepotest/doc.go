// Package yumrepotest writes yum (rpm-md) repositories for tests, demos
// and benchmarks. It is a test helper: nothing in fleetkit's own code
// paths uses it, and it is a normal package only so that example commands
// can use it too.
//
// It makes repositories two ways:
//
//   - in Go, with no tool installed: [Write] lays out package files (stand-in
//     bytes, not real rpms) under Packages/ and a primary.xml, compressed
//     with gzip, xz or zstd, named by its checksum and listed in
//     repodata/repomd.xml, the way createrepo_c lays a repository out.
//     [WriteMetadata] writes just the metadata, from any primary.xml bytes,
//     malformed ones and wrong checksums included, for parser tests;
//     [PrimaryXML] and [PackageXML] make the document.
//   - with the real tools: [BuildRPMs] builds small real noarch rpms with
//     rpmbuild, [Createrepo] indexes a directory with createrepo_c (gzip or
//     xz; zstd by recompressing primary.xml in Go, as createrepo_c builds
//     commonly lack it), and [SampleRPMs] is a set that exercises rpm's
//     version ordering: epochs, numeric releases, leading zeros, '~'
//     pre-releases and '^' snapshots. [RPMVercmp] asks rpm itself how
//     version strings compare, many pairs in one rpm invocation.
//
// Tests that need the tools first call testenv.Tool (internal/testenv),
// which skips them, or fails them under CI=true, when rpm, rpmbuild or
// createrepo_c is missing; scripts/test.sh installs Debian's rpm and
// createrepo-c packages.
// Without them the functions here that run a tool return an error wrapping
// [exec.ErrNotFound].
//
// # Errors
//
// Errors name what was being written or run; those of a tool that failed
// end with the last lines of its output.
//
// # Concurrency
//
// Every function is safe to call concurrently on different directories.
package yumrepotest
