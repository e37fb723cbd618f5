#include <signal.h>
#include <errno.h>
#include <string.h>
#include "gstvideo.h"

/* Go requires every signal handler in the process to run on the alternate
 * signal stack (SA_ONSTACK): goroutine stacks start at a few KiB and the
 * kernel's signal frame (with AVX state, about 3.5 KiB) pushed onto one can
 * run past its end into the next goroutine's stack. Go adds the flag to the
 * handlers it finds when it starts, but a host installs some later:
 * gst-launch-1.0 sets GLib's SIGINT and SIGHUP handlers, without the flag,
 * only after the pipeline has been built. A Ctrl-C then landed on a thread
 * running Go code and corrupted a parked goroutine's stack (a crash at
 * shutdown, seen as "unexpected return pc" in a nats.go goroutine). */

GST_DEBUG_CATEGORY_STATIC (react_signals_debug);
#define GST_CAT_DEFAULT react_signals_debug

/* Adds SA_ONSTACK to every installed handler that lacks it, leaving the
 * handler, mask and other flags as they are; returns how many it changed.
 * The default and ignore dispositions push no frame and are left alone. */
static gint
react_signals_onstack (GstObject * who)
{
  static gsize init = 0;
  gint sig, changed = 0;
  if (g_once_init_enter (&init)) {
    GST_DEBUG_CATEGORY_INIT (react_signals_debug, "reactsignals", 0,
        "gst-react: signal handlers made to run on the alternate signal stack");
    g_once_init_leave (&init, 1);
  }
  for (sig = 1; sig < NSIG; sig++) {
    struct sigaction sa;
    if (sig == SIGKILL || sig == SIGSTOP)
      continue;
    memset (&sa, 0, sizeof sa);
    if (sigaction (sig, NULL, &sa) != 0)
      continue; /* glibc's own real-time signals refuse */
    if (sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN || (sa.sa_flags & SA_ONSTACK) != 0)
      continue;
    sa.sa_flags |= SA_ONSTACK;
    if (sigaction (sig, &sa, NULL) == 0) {
      changed++;
      GST_INFO_OBJECT (who, "the handler of signal %d (%s) now runs on the alternate signal stack, as Go requires",
          sig, g_strsignal (sig));
    } else {
      GST_WARNING_OBJECT (who, "cannot give the handler of signal %d (%s) SA_ONSTACK: %s",
          sig, g_strsignal (sig), g_strerror (errno));
    }
  }
  return changed;
}

static GstStateChangeReturn (*react_parent_change_state) (GstElement *, GstStateChange);

/* Checks the handlers on every upward state change: gst-launch-1.0 installs
 * its own between READY->PAUSED and PAUSED->PLAYING. */
static GstStateChangeReturn
react_change_state (GstElement * e, GstStateChange transition)
{
  if (GST_STATE_TRANSITION_NEXT (transition) > GST_STATE_TRANSITION_CURRENT (transition))
    react_signals_onstack (GST_OBJECT (e));
  return react_parent_change_state (e, transition);
}

void
react_install_signal_guard (gpointer klass)
{
  GstElementClass *ec = GST_ELEMENT_CLASS (klass);
  if (ec->change_state == react_change_state)
    return;
  /* Every gst-react element is a GstBaseTransform that keeps its parent's
   * change_state, so one saved pointer serves them all. */
  g_assert (react_parent_change_state == NULL || react_parent_change_state == ec->change_state);
  react_parent_change_state = ec->change_state;
  ec->change_state = react_change_state;
}
