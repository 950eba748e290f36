// Package rpmver compares RPM package versions exactly as rpm does, so that
// fleetkit picks the same "newest" package per name and architecture that
// rpm and dnf would install.
//
// A full version is "[epoch:]version[-release]", for example "1:2.4.57-5.el9".
// [Compare] orders two such strings, [Parse] reads one into an [EVR], and
// [Vercmp] is rpm's rpmvercmp on a single version or release string.
//
// # Ordering
//
// Two EVRs compare by epoch first, numerically, with a missing epoch being 0,
// so any epoch beats any version: "1:1.0" > "2.0". Equal epochs compare by
// version with [Vercmp], then by release with [Vercmp], a missing release
// sorting before any present one ("1.0" < "1.0-1"), as rpm's rpmverCmp does.
// The order is total, so any list sorts consistently.
//
// [Vercmp] follows rpmio/rpmvercmp.c. Each string is cut into segments, each
// a maximal run of ASCII digits or of ASCII letters; all other bytes separate
// segments and are otherwise ignored, with two exceptions. Segments are
// compared pairwise, left to right:
//
//   - numeric segments compare as numbers of any length, leading zeros
//     ignored: "5.5p10" > "5.5p1", "10.0001" == "10.1", "001" == "1";
//   - alphabetic segments compare byte-wise: "1.0a" < "1.0aa", "10b2" > "10a1";
//   - a numeric segment beats an alphabetic one: "1.fc17" > "1b.fc17",
//     "8" > "xyz.4";
//   - separators other than '~' and '^' only delimit: "2.0" == "2_0",
//     "1.0a" == "1.0.a";
//   - '~' sorts before anything, even the end of the string, which makes
//     pre-releases: "1.0~rc1" < "1.0", "1.0~rc1~git123" < "1.0~rc1";
//   - '^' sorts after the end of the string but before any further segment,
//     which makes post-release snapshots: "1.0" < "1.0^git1" < "1.0.1" and
//     "1.0~rc1" < "1.0~rc1^git1" < "1.0";
//   - when every compared segment is equal, the string with segments left
//     over is newer: "2.0.1" > "2.0", "2.0.1a" > "2.0.1", "6.0.rc1" > "6.0".
//
// Letters and digits are ASCII only, as in rpm, so "1.1.α" == "1.1.β".
//
// # Errors
//
// [Compare] and [Vercmp] accept any string and never fail. [Parse] rejects
// malformed input with an error wrapping [ErrInvalid] that quotes the input
// and says what is wrong with it.
//
// # Concurrency
//
// Every function in this package is pure and safe for concurrent use.
package rpmver
