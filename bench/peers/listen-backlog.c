/* listen(2) with OpenBSD's minimum queue, preloaded into the benchmark's OpenSMTPD (LD_PRELOAD).
 *
 * OpenSMTPD listens with a compiled-in backlog of 5 (SMTPD_BACKLOG in smtpd.h, no smtpd.conf
 * setting). On OpenBSD, its home, solisten() raises any backlog below kern.sominconn (80) to 80;
 * Linux takes 5 as it is, for the accept queue and the SYN queue alike. With 20 clients
 * connecting at once the SYN queue overflows, Linux answers with SYN cookies, and a cookie's
 * final ACK that meets a full accept queue is dropped with no state left to retransmit from:
 * the client believes it is connected and waits for a 220 greeting that never comes (SMTP's
 * server speaks first), until it gives up. This gives the portable build the queue it has on
 * OpenBSD; built by scripts/install-bench-peers.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <sys/socket.h>

/* OpenBSD's SOMINCONN (sys/kern/uipc_socket.c). */
#define MIN_BACKLOG 80

int listen(int fd, int backlog) {
  static int (*real_listen)(int, int);
  if (real_listen == NULL) real_listen = (int (*)(int, int))dlsym(RTLD_NEXT, "listen");
  return real_listen(fd, backlog < MIN_BACKLOG ? MIN_BACKLOG : backlog);
}
