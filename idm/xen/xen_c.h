// Xen's C libraries. Debian 12's 4.17 headers lack extern "C" guards, so C++ must wrap them (without this the
// link fails with `undefined reference to xs_open(unsigned long)`).
#pragma once

extern "C" {
#include <xenevtchn.h>
#include <xengnttab.h>
#include <xenstore.h>
}
