// The one way golgi includes cpp-httplib. Debian's libcpp-httplib-dev splits the library into
// httplib.h and libcpp-httplib.so, built with TLS, zlib and brotli support (its pkg-config file
// names the three macros below). The macros change the layout of httplib's classes, so every
// translation unit that uses them must define the same three before the include, or the objects
// it makes would not match the compiled library.
//
// Only server.cpp and the serve tests include this; everything else sees plain golgi headers, so
// httplib's (large) header stays out of most translation units.
#pragma once

#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#ifndef CPPHTTPLIB_ZLIB_SUPPORT
#define CPPHTTPLIB_ZLIB_SUPPORT
#endif
#ifndef CPPHTTPLIB_BROTLI_SUPPORT
#define CPPHTTPLIB_BROTLI_SUPPORT
#endif

#include <httplib.h>
