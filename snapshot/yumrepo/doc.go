// Package yumrepo reads yum (rpm-md) repositories: the repodata/repomd.xml
// index and the primary metadata it points to, which lists every package
// with its name, architecture, epoch-version-release, checksum, size,
// location and times.
//
// [Open] takes a local directory, a file:// URL or an http(s):// URL, reads
// repodata/repomd.xml, fetches the "primary" entry, verifies its checksum
// while it streams, decompresses it (gzip, xz, zstd or plain XML,
// chosen by magic bytes and file extension) and parses it token by token
// with encoding/xml, so memory use grows with the number of packages kept,
// not with the size of the document. [Repo.Packages] returns what was read;
// nothing is returned until the whole file has been read and its checksum
// verified. [Newest] reduces a package list to the newest build of each
// (name, arch) pair, ordered with [rpmver.CompareEVR].
//
// A repository cannot point outside itself: a location href that is empty,
// absolute, has a scheme, contains a ".." segment, a backslash or a control
// character, or a package with an xml:base attribute, is refused.
//
// # Errors
//
// Errors name the operation and the file (URLs with their password
// redacted) and wrap one of the sentinels below where a caller can act on
// the cause, so they can be tested with [errors.Is]:
//
//   - [ErrNotRepo]: there is no repodata/repomd.xml (missing file, HTTP 404
//     or 410), or it has no primary entry.
//   - [ErrChecksum]: a file's checksum (or its open-checksum, the checksum
//     of its decompressed content, when repomd.xml gives one) does not match;
//     the message names the file, the expected and the computed value.
//   - [ErrMalformed]: the XML is not well formed or lacks a required field;
//     the message names the file and the line. For XML syntax errors the
//     [*xml.SyntaxError] is wrapped too.
//   - [ErrUnsafeHref]: a location href would leave the repository.
//   - [ErrTooLarge]: metadata larger than [Options.MaxMetadataSize] (after
//     decompression) or repomd.xml larger than 16 MiB.
//
// Context errors (context.Canceled, context.DeadlineExceeded) are wrapped
// as they are. No input makes the package panic.
//
// # Concurrency
//
// [Open] may be called from many goroutines at once. A [*Repo] is
// immutable once returned and safe for concurrent use; [Repo.Packages]
// returns a fresh slice each call. [Package] and [Checksum] are plain
// values. Open starts no goroutines that outlive it (the zstd decoder runs
// single-threaded and is closed before Open returns).
//
// Known limitation: an xz stream's header chooses its dictionary size (up
// to 4 GiB) and the xz decoder allocates it before the checksum can be
// checked, so a hostile xz file can cost that much memory.
package yumrepo
