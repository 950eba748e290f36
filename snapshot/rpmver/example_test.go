package rpmver_test

import (
	"fmt"
	"slices"

	"github.com/fleetkit/fleetkit/snapshot/rpmver"
)

func ExampleCompare() {
	versions := []string{
		"1.0.1-1",
		"1:0.9-1",
		"1.0-2",
		"1.0^git20240101-1",
		"1.0~rc1-1",
		"1.0-10",
		"1.0a-1",
		"1.0-1",
	}
	slices.SortFunc(versions, rpmver.Compare)
	for _, v := range versions {
		fmt.Println(v)
	}
	fmt.Println("newest:", slices.MaxFunc(versions, rpmver.Compare))
	// Output:
	// 1.0~rc1-1
	// 1.0-1
	// 1.0-2
	// 1.0-10
	// 1.0^git20240101-1
	// 1.0a-1
	// 1.0.1-1
	// 1:0.9-1
	// newest: 1:0.9-1
}

func ExampleParse() {
	evr, err := rpmver.Parse("0:2.4.57-5.el9_4.1")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("epoch %d, version %s, release %s\n", evr.Epoch, evr.Version, evr.Release)
	fmt.Println(evr) // the zero epoch is left out

	_, err = rpmver.Parse("1:2:3")
	fmt.Println(err)
	// Output:
	// epoch 0, version 2.4.57, release 5.el9_4.1
	// 2.4.57-5.el9_4.1
	// rpmver: invalid EVR "1:2:3": 2 ':' separators; only one, after the epoch, is allowed
}

func ExampleVercmp() {
	fmt.Println(rpmver.Vercmp("1.0~rc1", "1.0"))
	fmt.Println(rpmver.Vercmp("1.0^git1", "1.0"))
	fmt.Println(rpmver.Vercmp("1.0^git1", "1.0.1"))
	fmt.Println(rpmver.Vercmp("5.5p10", "5.5p1"))
	fmt.Println(rpmver.Vercmp("10.0001", "10.1"))
	// Output:
	// -1
	// 1
	// -1
	// 1
	// 0
}

func ExampleCompareEVR() {
	installed := rpmver.EVR{Version: "2.0", Release: "3.el9"}
	candidate := rpmver.EVR{Epoch: 1, Version: "1.5", Release: "1.el9"}
	if rpmver.CompareEVR(candidate, installed) > 0 {
		fmt.Printf("upgrade %s -> %s\n", installed, candidate)
	}
	// Output:
	// upgrade 2.0-3.el9 -> 1:1.5-1.el9
}
