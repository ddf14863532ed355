/* The GError domain of perc_daemon (see perc_daemon/error.h). */
#include "perc_daemon/error.h"

G_DEFINE_QUARK(perc-daemon-error-quark, perc_daemon_error)
