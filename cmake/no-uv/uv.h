/* Placed first on tornuv_core's include path: lib/ is the portable core and
 * must never see libuv. Only shim/ and include/tornuv/uv.h may. */
#error "lib/ must not include <uv.h>: talk to the loop through the public tornuv API"
