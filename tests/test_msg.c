/* test_msg.c: frames, their readers' refusals, and both transports. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <event2/buffer.h>

#include "msg.h"

static void
build_sample(struct msgb *b)
{
	msg_init(b, MSG_CTL_PEER, 0x0102030405060708ULL);
	msg_add_u8(b, 7);
	msg_add_u32(b, 0xdeadbeef);
	msg_add_u64(b, UINT64_MAX);
	msg_add_i64(b, -42);
	msg_add_f64(b, 3.25);
	msg_add_str(b, "hello");
	msg_add_str(b, NULL);
	msg_add_strn(b, "a\0b", 3);
	cr_assert_eq(msg_close(b), 0);
}

Test(msg, round_trip)
{
	struct msgb	 b = { 0 };
	struct msg	 m;
	size_t		 framelen, len;
	const char	*s;
	uint64_t	 u64;
	int64_t		 i64;
	double		 f64;
	uint32_t	 u32;
	uint8_t		 u8;

	build_sample(&b);
	cr_assert_eq(msg_parse(b.buf, b.len, &m, &framelen), 1);
	cr_assert_eq(framelen, b.len);
	cr_assert_eq(m.type, MSG_CTL_PEER);
	cr_assert_eq(m.seq, 0x0102030405060708ULL);
	/* Read each field once into a variable: assertions may re-evaluate. */
	u8 = msg_get_u8(&m);
	u32 = msg_get_u32(&m);
	u64 = msg_get_u64(&m);
	i64 = msg_get_i64(&m);
	f64 = msg_get_f64(&m);
	s = msg_get_str(&m, &len);
	cr_assert_eq(u8, 7);
	cr_assert_eq(u32, 0xdeadbeef);
	cr_assert_eq(u64, UINT64_MAX);
	cr_assert_eq(i64, -42);
	cr_assert_float_eq(f64, 3.25, 0);
	cr_assert_str_eq(s, "hello");
	cr_assert_eq(len, 5);
	s = msg_get_str(&m, NULL);
	cr_assert_null(s);
	cr_assert_eq(m.err, 0, "absent string is not an error");
	s = msg_get_str(&m, &len);
	cr_assert_eq(len, 3);
	cr_assert_eq(memcmp(s, "a\0b", 3), 0);
	cr_assert_eq(msg_done(&m), 0);
	cr_assert_str_eq(msg_type_str(m.type), "CTL_PEER");
	msg_free(&b);
}

Test(msg, short_payload_fails)
{
	struct msgb	b = { 0 };
	struct msg	m;
	size_t		framelen;

	msg_init(&b, MSG_CTL_PING, 1);
	msg_add_u32(&b, 5);
	cr_assert_eq(msg_close(&b), 0);
	cr_assert_eq(msg_parse(b.buf, b.len, &m, &framelen), 1);
	cr_assert_eq(msg_get_u64(&m), 0);
	cr_assert_eq(m.err, 1);
	cr_assert_eq(msg_done(&m), -1);
	msg_free(&b);
}

Test(msg, leftover_bytes_fail)
{
	struct msgb	b = { 0 };
	struct msg	m;
	size_t		framelen;

	msg_init(&b, MSG_CTL_PING, 1);
	msg_add_u64(&b, 5);
	cr_assert_eq(msg_close(&b), 0);
	cr_assert_eq(msg_parse(b.buf, b.len, &m, &framelen), 1);
	cr_assert_eq(msg_get_u32(&m), 0);
	cr_assert_eq(msg_done(&m), -1, "a frame read halfway is not done");
	msg_free(&b);
}

Test(msg, string_without_its_nul_fails)
{
	struct msgb	b = { 0 };
	struct msg	m;
	size_t		framelen;

	msg_init(&b, MSG_CTL_CONFIG, 0);
	msg_add_str(&b, "abc");
	cr_assert_eq(msg_close(&b), 0);
	b.buf[b.len - 1] = 'x';
	cr_assert_eq(msg_parse(b.buf, b.len, &m, &framelen), 1);
	cr_assert_null(msg_get_str(&m, NULL));
	cr_assert_eq(msg_done(&m), -1);
	msg_free(&b);
}

Test(msg, bad_header_and_partial_frames)
{
	struct msgb	b = { 0 };
	struct msg	m;
	size_t		framelen, i;

	build_sample(&b);
	for (i = 0; i < b.len; i++)
		cr_assert_eq(msg_parse(b.buf, i, &m, &framelen), 0,
		    "a frame cut at %zu is not complete", i);
	b.buf[0] = MSG_VERSION + 1;
	cr_assert_eq(msg_parse(b.buf, b.len, &m, &framelen), -1, "version");
	b.buf[0] = MSG_VERSION;
	b.buf[4] = 0xff;	/* length 4 GiB */
	cr_assert_eq(msg_parse(b.buf, b.len, &m, &framelen), -1, "length");
	msg_free(&b);
}

Test(msg, oversized_frames_are_refused_by_the_builder)
{
	struct msgb	 b = { 0 };
	static char	 big[MSG_CTL_MAX + 1];

	memset(big, 'x', sizeof(big) - 1);
	msg_init(&b, MSG_CTL_CONFIG, 0);
	msg_add_str(&b, big);
	cr_assert_eq(msg_close(&b), 0);
	cr_assert_eq(msg_send(-1, &b, -1), -1, "over MSG_CTL_MAX");
	cr_assert_eq(errno, EMSGSIZE);
	msg_init(&b, MSG_EVENT_BASE, 0);
	msg_add_strn(&b, big, MSG_MAX_PAYLOAD);
	cr_assert_eq(msg_close(&b), -1, "over MSG_MAX_PAYLOAD");
	msg_free(&b);
}

/* A stream reader never hands out half a frame, whatever the split. */
Test(msg, pull_from_a_stream_in_pieces)
{
	struct msgb	 b = { 0 };
	struct evbuffer	*in = evbuffer_new();
	struct msg	 m;
	size_t		 framelen, i, got = 0;
	uint8_t		 two[1024];
	size_t		 twolen;

	build_sample(&b);
	memcpy(two, b.buf, b.len);
	memcpy(two + b.len, b.buf, b.len);
	twolen = 2 * b.len;
	for (i = 0; i < twolen; i++) {
		evbuffer_add(in, two + i, 1);
		while (msg_pull(in, &m, &framelen) == 1) {
			cr_assert_eq(framelen, b.len);
			cr_assert_eq(msg_get_u8(&m), 7);
			evbuffer_drain(in, framelen);
			got++;
		}
	}
	cr_assert_eq(got, 2);
	cr_assert_eq(evbuffer_get_length(in), 0);
	evbuffer_add(in, "garbage-garbage-garbage", 23);
	cr_assert_eq(msg_pull(in, &m, &framelen), -1);
	evbuffer_free(in);
	msg_free(&b);
}

Test(msg, seqpacket_records_carry_a_descriptor)
{
	struct msgb	 b = { 0 };
	struct msg	 m;
	uint8_t		 buf[MSG_CTL_MAX];
	int		 sv[2], pipefd[2], got;
	size_t		 framelen;
	ssize_t		 n;
	char		 c;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	cr_assert_eq(pipe(pipefd), 0);
	msg_init(&b, MSG_CTL_PEER, 9);
	msg_add_u32(&b, 2);
	cr_assert_eq(msg_close(&b), 0);
	cr_assert_eq(msg_send(sv[0], &b, pipefd[0]), 0);
	cr_assert_eq(msg_send(sv[0], &b, -1), 0);
	n = msg_recv(sv[1], buf, sizeof(buf), &got);
	cr_assert_eq(n, (ssize_t)b.len);
	cr_assert_neq(got, -1);
	cr_assert_eq(write(pipefd[1], "z", 1), 1);
	cr_assert_eq(read(got, &c, 1), 1, "the passed fd is the pipe");
	cr_assert_eq(c, 'z');
	cr_assert(fcntl(got, F_GETFD) & FD_CLOEXEC);
	cr_assert_eq(msg_parse(buf, (size_t)n, &m, &framelen), 1);
	cr_assert_eq(m.seq, 9);
	n = msg_recv(sv[1], buf, sizeof(buf), &got);
	cr_assert_eq(n, (ssize_t)b.len, "records stay apart");
	cr_assert_eq(got, -1);
	n = msg_recv(sv[1], buf, 4, &got);
	cr_assert_eq(n, -1, "nothing queued");
	cr_assert_eq(errno, EAGAIN);
	cr_assert_eq(msg_send(sv[0], &b, -1), 0);
	n = msg_recv(sv[1], buf, 4, &got);
	cr_assert_eq(n, -1, "a record too big for the buffer is an error");
	cr_assert_eq(errno, EMSGSIZE);
	close(sv[0]);
	cr_assert_eq(msg_recv(sv[1], buf, sizeof(buf), &got), 0, "EOF");
	msg_free(&b);
}
