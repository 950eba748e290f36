package inventory

import "net"

var defaultResolver TXTResolver = net.DefaultResolver
