// SPDX-License-Identifier: GPL-2.0
/*
 * vnuma.c's operations against a scripted connection: each step is the
 * command QEMU expects, its reply and the events QEMU sends after it.
 * A wait with no event left times out at once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "runner.h"
#include "vnuma.h"

struct step {
	const char *cmd;
	const char *reply;
	const char *events[4];
};

struct script {
	const struct step *steps;
	size_t nr;
	size_t next;
	struct qmp_queue events;
	char log[8192];		/* the commands run, one per line */
	int progress;		/* progress callbacks */
	uint64_t last_pending;
};

static int fake_execute(struct vn_conn *c, struct json_object *cmd,
			struct json_object **reply, struct vn_err *err)
{
	struct script *s = c->priv;
	const struct step *st;
	size_t n = strlen(s->log), i;
	struct json_object *v;

	snprintf(s->log + n, sizeof(s->log) - n, "%s\n", qmp_json_str(cmd));
	json_object_object_get_ex(cmd, "execute", &v);
	if (!t_check(s->next < s->nr, __FILE__, __LINE__,
		     "unexpected command %s", qmp_json_str(cmd))) {
		json_object_put(cmd);
		return vn_err_set(err, VN_ERR_IO, "script ended"), -1;
	}
	st = &s->steps[s->next++];
	t_check(!strcmp(json_object_get_string(v), st->cmd), __FILE__,
		__LINE__, "step %zu: got %s, want %s", s->next - 1,
		json_object_get_string(v), st->cmd);
	json_object_put(cmd);
	*reply = json_tokener_parse(st->reply);
	t_check(*reply != NULL, __FILE__, __LINE__, "bad reply in script");
	for (i = 0; i < 4 && st->events[i]; i++)
		qmp_queue_push(&s->events, json_tokener_parse(st->events[i]));
	return 0;
}

static int fake_next_event(struct vn_conn *c, int timeout_ms,
			   struct json_object **ev, struct vn_err *err)
{
	struct script *s = c->priv;

	(void)timeout_ms;
	(void)err;
	*ev = qmp_queue_take(&s->events, 0);
	return *ev ? 1 : 0;
}

static const struct vn_conn_ops fake_ops = {
	.name = "fake",
	.execute = fake_execute,
	.next_event = fake_next_event,
};

static void progress(const struct vn_info *info, void *arg)
{
	struct script *s = arg;

	s->progress++;
	s->last_pending = vn_info_pending(info);
}

static void dev_init(struct vn_dev *d, struct script *s,
		     const struct step *steps, size_t nr)
{
	memset(s, 0, sizeof(*s));
	s->steps = steps;
	s->nr = nr;
	qmp_queue_init(&s->events);
	memset(d, 0, sizeof(*d));
	d->conn = conn_new(&fake_ops, s);
	d->domain = "vm1";
	d->id = "vnuma0";
	d->timeout_ms = 1000;
	d->progress = progress;
	d->progress_arg = s;
}

/* All steps used; free. */
static void dev_fini(struct vn_dev *d, struct script *s, int line)
{
	t_check(s->next == s->nr, __FILE__, line, "%zu of %zu steps run",
		s->next, s->nr);
	conn_close(d->conn);
	qmp_queue_clear(&s->events);
}

#define RUN(steps, d, s) dev_init(d, s, steps, sizeof(steps) / sizeof(steps[0]))

#define NODE(n, added, pending)						\
	"{\"node\":" #n ",\"guest-node\":" #n ",\"possible\":true,"	\
	"\"online\":true,\"with-memory\":true,\"with-cpus\":false,"	\
	"\"added\":" #added ",\"present-pages\":262144,"		\
	"\"managed-pages\":262144,\"free-pages\":100000,"		\
	"\"pending-pages\":" #pending ",\"transplanted-pages\":0,"	\
	"\"cpus\":0}"
#define QUERY(nodes)							\
	"{\"return\":[{\"id\":\"vnuma0\",\"qom-path\":\"/m\","		\
	"\"block-size\":134217728,\"max-nodes\":4,"			\
	"\"driver-ready\":true,"					\
	"\"report-interval\":0,\"reports\":3,\"bogus-events\":0,"	\
	"\"page-size\":4096,\"report-seq\":3,\"nodes\":[" nodes "],"	\
	"\"commands\":[]}]}"
#define Q_BEFORE	QUERY(NODE(0, false, 0))
/* A guest that adds memory in 2 GiB blocks. */
#define Q_BIG_BLOCKS							\
	"{\"return\":[{\"id\":\"vnuma0\",\"qom-path\":\"/m\","		\
	"\"block-size\":134217728,\"max-nodes\":4,"			\
	"\"driver-ready\":true,"					\
	"\"report-interval\":0,\"reports\":3,\"bogus-events\":0,"	\
	"\"page-size\":4096,\"report-seq\":3,"				\
	"\"guest-relayout-unit\":134217728,"				\
	"\"guest-add-unit\":2147483648,\"nodes\":["			\
	NODE(0, false, 0) "],\"commands\":[]}]}"
#define Q_AFTER		QUERY(NODE(0, false, 0) "," NODE(2, true, 0))
#define Q_PENDING(p)	QUERY(NODE(0, false, 0) "," NODE(1, false, p))
#define OK		"{\"return\":{}}"
#define CID(n)		"{\"return\":{\"command-id\":" #n "}}"
#define QERR(desc)	"{\"error\":{\"class\":\"GenericError\",\"desc\":\"" \
			desc "\"}}"
#define DONE(cid, type, status, detail)					\
	"{\"event\":\"VIRTIO_NUMA_COMPLETION\",\"data\":{\"id\":"	\
	"\"vnuma0\",\"qom-path\":\"/m\",\"command-id\":" #cid ","	\
	"\"type\":\"" type "\",\"status\":\"" status "\",\"field\":"	\
	"\"none\",\"detail\":" #detail "}}"
#define DONE_OTHER(cid)							\
	"{\"event\":\"VIRTIO_NUMA_COMPLETION\",\"data\":{\"id\":"	\
	"\"vnuma1\",\"qom-path\":\"/m1\",\"command-id\":" #cid ","	\
	"\"type\":\"report\",\"status\":\"failed\",\"field\":"		\
	"\"none\",\"detail\":5}}"
#define REPORT(seq)							\
	"{\"event\":\"VIRTIO_NUMA_REPORT\",\"data\":{\"id\":\"vnuma0\","\
	"\"qom-path\":\"/m\",\"report-seq\":" #seq "}}"

static const uint32_t cpu3[] = { 3 };

static void test_node_add_ok(void)
{
	static const uint32_t hn[] = { 1 };
	static const struct step steps[] = {
		{ "query-virtio-numa", Q_BEFORE, { 0 } },
		{ "object-add", OK, { 0 } },
		{ "virtio-numa-node-add", "{\"return\":{\"command-id\":5,"
		  "\"cpu-command-ids\":[6]}}",
		  { DONE_OTHER(5), DONE(6, "cpu-assign", "ok", 0),
		    DONE(5, "node-add", "ok", 0) } },
		{ "query-virtio-numa", Q_AFTER, { 0 } },
	};
	struct vn_node_add_req req = {
		.node = 2, .size = 1ull << 30, .host_nodes = hn,
		.nr_host_nodes = 1, .cpus = cpu3, .nr_cpus = 1,
	};
	struct vn_info info;
	struct vn_err err;
	struct script s;
	struct vn_dev d;

	RUN(steps, &d, &s);
	CHECK(vn_node_add(&d, &req, &info, &err) == VN_OK);
	CHECK(vn_info_node(&info, 2) && vn_info_node(&info, 2)->added);
	CHECK_HAS(s.log, "{\"execute\":\"object-add\",\"arguments\":{"
		  "\"qom-type\":\"memory-backend-ram\",\"id\":"
		  "\"vnuma-vm1-node2\",\"size\":1073741824,\"host-nodes\":[1],"
		  "\"policy\":\"bind\"}}");
	CHECK_HAS(s.log, "{\"execute\":\"virtio-numa-node-add\",\"arguments\":"
		  "{\"id\":\"vnuma0\",\"node\":2,\"memdev\":"
		  "\"vnuma-vm1-node2\",\"cpus\":[3]}}");
	vn_info_free(&info);
	dev_fini(&d, &s, __LINE__);
}

static void test_node_add_refused_by_qemu(void)
{
	static const struct step steps[] = {
		{ "query-virtio-numa", Q_BEFORE, { 0 } },
		{ "object-add", OK, { 0 } },
		{ "virtio-numa-node-add",
		  QERR("'node': node 1 has boot memory"), { 0 } },
		{ "object-del", OK, { 0 } },
	};
	struct vn_node_add_req req = { .node = 1, .size = 1ull << 30 };
	struct vn_info info;
	struct vn_err err;
	struct script s;
	struct vn_dev d;

	RUN(steps, &d, &s);
	CHECK(vn_node_add(&d, &req, &info, &err) == VN_ERR_QEMU);
	CHECK_STR(err.msg, "vm1/vnuma0: node 1: QEMU refused "
		  "virtio-numa-node-add: 'node': node 1 has boot memory "
		  "[GenericError]");
	CHECK_HAS(s.log, "{\"execute\":\"object-del\",\"arguments\":{\"id\":"
		  "\"vnuma-vm1-node1\"}}");
	CHECK(!info.id);
	dev_fini(&d, &s, __LINE__);
}

static void test_node_add_failed_in_guest(void)
{
	static const struct step steps[] = {
		{ "query-virtio-numa", Q_BEFORE, { 0 } },
		{ "object-add", OK, { 0 } },
		{ "virtio-numa-node-add", CID(5),
		  { DONE(5, "node-add", "failed", 12) } },
		{ "object-del", QERR("object 'vnuma-vm1-node2' is in use, "
				     "can not be deleted"), { 0 } },
	};
	struct vn_node_add_req req = { .node = 2, .size = 1ull << 30 };
	struct vn_info info;
	struct vn_err err;
	struct script s;
	struct vn_dev d;

	RUN(steps, &d, &s);
	CHECK(vn_node_add(&d, &req, &info, &err) == VN_ERR_GUEST);
	CHECK_HAS(err.msg, "vm1/vnuma0: node 2: the guest answered node-add "
		  "(command 5) with 'failed'");
	CHECK_HAS(err.msg, "ENOMEM");
	CHECK_HAS(err.msg, "memory backend vnuma-vm1-node2 is left behind: "
		  "QEMU refused object-del: object 'vnuma-vm1-node2' is in "
		  "use");
	dev_fini(&d, &s, __LINE__);
}

static void test_node_add_backend_refused(void)
{
	static const struct step steps[] = {
		{ "query-virtio-numa", Q_BEFORE, { 0 } },
		{ "object-add", QERR("attempt to add duplicate property "
				     "'vnuma-vm1-node2'"), { 0 } },
	};
	struct vn_node_add_req req = { .node = 2, .size = 1ull << 30 };
	struct vn_info info;
	struct vn_err err;
	struct script s;
	struct vn_dev d;

	RUN(steps, &d, &s);
	CHECK(vn_node_add(&d, &req, &info, &err) == VN_ERR_QEMU);
	CHECK_HAS(err.msg, "vm1/vnuma0: node 2: cannot create memory backend "
		  "vnuma-vm1-node2: QEMU refused object-add: attempt to add");
	dev_fini(&d, &s, __LINE__);
}

static void test_node_add_partial(void)
{
	static const struct step steps[] = {
		{ "query-virtio-numa", Q_BEFORE, { 0 } },
		{ "object-add", OK, { 0 } },
		{ "virtio-numa-node-add", "{\"return\":{\"command-id\":5,"
		  "\"cpu-command-ids\":[6]}}",
		  { DONE(5, "node-add", "ok", 0),
		    DONE(6, "cpu-assign", "busy", 16) } },
		{ "query-virtio-numa", Q_AFTER, { 0 } },
	};
	struct vn_node_add_req req = {
		.node = 2, .size = 1ull << 30, .cpus = cpu3, .nr_cpus = 1,
	};
	struct vn_info info;
	struct vn_err err;
	struct script s;
	struct vn_dev d;

	RUN(steps, &d, &s);
	CHECK(vn_node_add(&d, &req, &info, &err) == VN_ERR_PARTIAL);
	CHECK_HAS(err.msg, "vm1/vnuma0: node 2: the node is up, but vCPU 3 "
		  "did not move: the guest answered cpu-assign (command 6) "
		  "with 'busy'");
	CHECK(info.id && info.nr_nodes == 2);
	CHECK(!strstr(s.log, "object-del"));
	vn_info_free(&info);
	dev_fini(&d, &s, __LINE__);
}

static void test_node_add_bad_input(void)
{
	static const struct step steps[] = {
		{ "query-virtio-numa", Q_BEFORE, { 0 } },
		{ "query-virtio-numa", Q_BEFORE, { 0 } },
		{ "query-virtio-numa", Q_BIG_BLOCKS, { 0 } },
	};
	struct vn_node_add_req req = { .node = 2, .size = 100 << 20 };
	struct vn_info info;
	struct vn_err err;
	struct script s;
	struct vn_dev d;

	RUN(steps, &d, &s);
	CHECK(vn_node_add(&d, &req, &info, &err) == VN_ERR_USAGE);
	CHECK_STR(err.msg, "vm1/vnuma0: node 2: size 104857600 (100 MiB) is "
		  "not a non-zero multiple of the block size 128 MiB");
	req.node = 4;
	req.size = 128 << 20;
	CHECK(vn_node_add(&d, &req, &info, &err) == VN_ERR_USAGE);
	CHECK_STR(err.msg, "vm1/vnuma0: node 4: not below the device's "
		  "max-nodes 4");
	/* Whole device blocks, but not whole memory blocks of the guest. */
	req.node = 2;
	req.size = 256 << 20;
	CHECK(vn_node_add(&d, &req, &info, &err) == VN_ERR_USAGE);
	CHECK_STR(err.msg, "vm1/vnuma0: node 2: size 268435456 (256 MiB) is "
		  "not a non-zero multiple of the guest's memory block size "
		  "2 GiB");
	CHECK(!strstr(s.log, "object-add"));
	dev_fini(&d, &s, __LINE__);
}

static void test_node_add_timeout(void)
{
	static const struct step steps[] = {
		{ "query-virtio-numa", Q_BEFORE, { 0 } },
		{ "object-add", OK, { 0 } },
		{ "virtio-numa-node-add", CID(5),
		  { "{\"event\":\"VIRTIO_NUMA_COMPLETION\",\"data\":{\"id\":"
		    "\"vnuma0\",\"command-id\":5}}" } },
	};
	struct vn_node_add_req req = { .node = 2, .size = 1ull << 30 };
	struct vn_info info;
	struct vn_err err;
	struct script s;
	struct vn_dev d;

	RUN(steps, &d, &s);
	CHECK(vn_node_add(&d, &req, &info, &err) == VN_ERR_IO);
	CHECK_HAS(err.msg, "vm1/vnuma0: node 2: no answer from the guest to "
		  "node-add (command 5) within 1 s");
	CHECK_HAS(err.msg, "ignored a bad event: VIRTIO_NUMA_COMPLETION: "
		  "'type' is missing");
	CHECK_HAS(err.msg, "memory backend vnuma-vm1-node2 stays mapped");
	dev_fini(&d, &s, __LINE__);
}

static void test_node_remove(void)
{
	static const struct step ok_steps[] = {
		{ "query-virtio-numa", Q_AFTER, { 0 } },
		{ "virtio-numa-node-remove", CID(9),
		  { DONE(9, "node-remove", "ok", 0) } },
		{ "qom-list", "{\"return\":[{\"name\":\"type\",\"type\":"
		  "\"string\"},{\"name\":\"vnuma-vm1-node2\",\"type\":"
		  "\"child<memory-backend-ram>\"}]}", { 0 } },
		{ "object-del", OK, { 0 } },
		{ "query-virtio-numa", Q_BEFORE, { 0 } },
	};
	static const struct step partial_steps[] = {
		{ "query-virtio-numa", Q_AFTER, { 0 } },
		{ "virtio-numa-node-remove", CID(9),
		  { DONE(9, "node-remove", "partial", 16) } },
		{ "query-virtio-numa", Q_AFTER, { 0 } },
	};
	static const struct step none_steps[] = {
		{ "query-virtio-numa", Q_AFTER, { 0 } },
		{ "virtio-numa-node-remove", CID(9),
		  { DONE(9, "node-remove", "ok", 0) } },
		{ "qom-list", "{\"return\":[]}", { 0 } },
		{ "query-virtio-numa", Q_BEFORE, { 0 } },
	};
	struct vn_info info;
	struct vn_err err;
	struct script s;
	struct vn_dev d;

	RUN(ok_steps, &d, &s);
	CHECK(vn_node_remove(&d, 2, &info, &err) == VN_OK);
	CHECK_HAS(s.log, "{\"execute\":\"virtio-numa-node-remove\","
		  "\"arguments\":{\"id\":\"vnuma0\",\"node\":2}}");
	CHECK_HAS(s.log, "\"object-del\",\"arguments\":{\"id\":"
		  "\"vnuma-vm1-node2\"}");
	CHECK(!vn_info_node(&info, 2));
	vn_info_free(&info);
	dev_fini(&d, &s, __LINE__);

	RUN(partial_steps, &d, &s);
	CHECK(vn_node_remove(&d, 2, &info, &err) == VN_ERR_PARTIAL);
	CHECK_HAS(err.msg, "vm1/vnuma0: node 2: the guest answered "
		  "node-remove (command 9) with 'partial'");
	CHECK_HAS(err.msg, "run node-remove again");
	CHECK(info.id);
	vn_info_free(&info);
	dev_fini(&d, &s, __LINE__);

	RUN(none_steps, &d, &s);
	CHECK(vn_node_remove(&d, 2, &info, &err) == VN_OK);
	CHECK(!strstr(s.log, "object-del"));
	vn_info_free(&info);
	dev_fini(&d, &s, __LINE__);
}

static void test_relayout_wait(void)
{
	static const struct step steps[] = {
		{ "query-virtio-numa", Q_BEFORE, { 0 } },
		{ "virtio-numa-relayout", CID(11),
		  { REPORT(4), DONE(11, "relayout", "ok", 0) } },
		{ "query-virtio-numa", Q_PENDING(1024), { 0 } },
		{ "query-virtio-numa", Q_PENDING(512), { REPORT(5) } },
		{ "query-virtio-numa", Q_PENDING(0), { 0 } },
		{ "query-virtio-numa", Q_PENDING(0), { 0 } },
	};
	static const struct vn_range r[] = {
		{ 0x40000000, 0x8000000, 1 },
	};
	struct vn_relayout_req req = {
		.ranges = r, .nr = 1, .migrate = true, .settle = true,
	};
	struct vn_info info;
	struct vn_err err;
	struct script s;
	struct vn_dev d;
	uint64_t cid;

	RUN(steps, &d, &s);
	CHECK(vn_relayout(&d, &req, &cid, &info, &err) == VN_OK);
	CHECK_U64(cid, 11);
	CHECK_HAS(s.log, "{\"execute\":\"virtio-numa-relayout\",\"arguments\":"
		  "{\"id\":\"vnuma0\",\"ranges\":[{\"addr\":1073741824,"
		  "\"size\":134217728,\"node\":1}],\"migrate\":true}}");
	CHECK_U64(s.progress, 3);
	CHECK_U64(s.last_pending, 0);
	CHECK(info.id && vn_info_pending(&info) == 0);
	vn_info_free(&info);
	dev_fini(&d, &s, __LINE__);
}

static void test_relayout_drain_timeout(void)
{
	static const struct step steps[] = {
		{ "query-virtio-numa", Q_BEFORE, { 0 } },
		{ "virtio-numa-relayout", CID(11),
		  { DONE(11, "relayout", "ok", 0) } },
		{ "query-virtio-numa", Q_PENDING(512), { 0 } },
	};
	static const struct vn_range r[] = { { 0x40000000, 0x8000000, 1 } };
	struct vn_relayout_req req = { .ranges = r, .nr = 1, .settle = true };
	struct vn_info info;
	struct vn_err err;
	struct script s;
	struct vn_dev d;
	uint64_t cid;

	RUN(steps, &d, &s);
	CHECK(vn_relayout(&d, &req, &cid, &info, &err) == VN_ERR_IO);
	CHECK_HAS(err.msg, "vm1/vnuma0: 512 pages (2 MiB) are still pending "
		  "after 1 s");
	dev_fini(&d, &s, __LINE__);
}

static void test_relayout_refused(void)
{
	static const struct step steps[] = {
		{ "query-virtio-numa", Q_BEFORE, { 0 } },
		{ "query-virtio-numa", Q_BEFORE, { 0 } },
		{ "virtio-numa-relayout", CID(12), { 0 } },
		{ "query-virtio-numa", Q_BEFORE, { 0 } },
		{ "virtio-numa-relayout", CID(13),
		  { DONE(13, "relayout", "invalid", 22) } },
	};
	static const struct vn_range bad[] = { { 0x40000000, 0x1000, 1 } };
	static const struct vn_range good[] = { { 0, 0x8000000, 1 } };
	struct vn_relayout_req req = { .ranges = bad, .nr = 1 };
	struct vn_info info;
	struct vn_err err;
	struct script s;
	struct vn_dev d;
	uint64_t cid;

	RUN(steps, &d, &s);
	CHECK(vn_relayout(&d, &req, &cid, &info, &err) == VN_ERR_USAGE);
	CHECK_HAS(err.msg, "vm1/vnuma0: range 1 (0x40000000, 0x1000 bytes) "
		  "is not aligned to the block size 128 MiB");
	req.ranges = good;
	CHECK(vn_relayout(&d, &req, &cid, &info, &err) == VN_OK);
	CHECK_U64(cid, 12);
	vn_info_free(&info);
	req.wait = true;
	CHECK(vn_relayout(&d, &req, &cid, &info, &err) == VN_ERR_GUEST);
	CHECK_HAS(err.msg, "the guest answered relayout (command 13) with "
		  "'invalid'");
	dev_fini(&d, &s, __LINE__);
}

static void test_report(void)
{
	static const struct step steps[] = {
		{ "query-virtio-numa", Q_BEFORE, { 0 } },
		{ "virtio-numa-report", CID(1),
		  { REPORT(9), DONE(1, "report", "ok", 0) } },
		{ "query-virtio-numa", Q_AFTER, { 0 } },
		{ "query-virtio-numa", Q_BEFORE, { 0 } },
		{ "virtio-numa-report", CID(2),
		  { DONE(2, "report", "cancelled", 0) } },
		{ "query-virtio-numa", "{\"return\":[]}", { 0 } },
	};
	struct vn_info info;
	struct vn_err err;
	struct script s;
	struct vn_dev d;

	RUN(steps, &d, &s);
	CHECK(vn_report(&d, &info, &err) == VN_OK);
	CHECK_HAS(s.log, "{\"execute\":\"virtio-numa-report\",\"arguments\":"
		  "{\"id\":\"vnuma0\"}}");
	CHECK_U64(info.nr_nodes, 2);
	vn_info_free(&info);
	CHECK(vn_report(&d, &info, &err) == VN_ERR_GUEST);
	CHECK_HAS(err.msg, "vm1/vnuma0: the guest answered report (command 2)"
		  " with 'cancelled'");
	CHECK(vn_query(&d, &info, &err) == VN_ERR_USAGE);
	CHECK_STR(err.msg, "vm1/vnuma0: the VM has no virtio-numa device "
		  "'vnuma0' (it has none)");
	dev_fini(&d, &s, __LINE__);
}

static void test_check_ranges(void)
{
	struct vn_info info = { .block_size = 1 << 20, .max_nodes = 2 };
	struct vn_range r[VN_MAX_RANGES + 1] = {
		{ 0, 2 << 20, 0 }, { 4 << 20, 2 << 20, 1 },
	};
	struct vn_err err;

	CHECK(!vn_check_ranges(&info, r, 2, &err));
	CHECK(vn_check_ranges(&info, r, 0, &err));
	CHECK_HAS(err.msg, "1 to 64 ranges, not 0");
	CHECK(vn_check_ranges(&info, r, VN_MAX_RANGES + 1, &err));
	r[1].addr = 1 << 20;
	CHECK(vn_check_ranges(&info, r, 2, &err));
	CHECK_STR(err.msg, "ranges 1 and 2 overlap");
	r[1].addr = 2 << 20;
	CHECK(!vn_check_ranges(&info, r, 2, &err));
	r[1].node = 2;
	CHECK(vn_check_ranges(&info, r, 2, &err));
	CHECK_HAS(err.msg, "range 2 names node 2, not below the device's "
		  "max-nodes 2");
	r[1].node = 1;
	r[1].addr = UINT64_MAX - (1 << 20) + 1;
	r[1].size = 2 << 20;
	CHECK(vn_check_ranges(&info, r, 2, &err));
	CHECK_HAS(err.msg, "wraps around");

	/* A guest that moves memory in larger units than the device's. */
	r[1] = (struct vn_range){ 2 << 20, 2 << 20, 1 };
	info.has_guest_relayout_unit = true;
	info.guest_relayout_unit = 4 << 20;
	CHECK(vn_check_ranges(&info, r, 2, &err));
	CHECK_STR(err.msg, "range 1 (0x0, 0x200000 bytes) is not aligned to "
		  "the guest's relayout unit size 4 MiB");
	r[0].size = 4 << 20;
	r[1] = (struct vn_range){ 4 << 20, 4 << 20, 1 };
	CHECK(!vn_check_ranges(&info, r, 2, &err));
	/* A smaller one changes nothing: the device's block still counts. */
	info.guest_relayout_unit = 4096;
	r[1].size = 1 << 19;
	CHECK(vn_check_ranges(&info, r, 2, &err));
	CHECK_HAS(err.msg, "not aligned to the block size 1 MiB");
}

static void test_backend_name(void)
{
	char buf[128];

	vn_backend_name(buf, sizeof(buf), "vm1", 2);
	CHECK_STR(buf, "vnuma-vm1-node2");
	vn_backend_name(buf, sizeof(buf), "my vm/ü.x_y", 10);
	CHECK_STR(buf, "vnuma-my_vm___.x_y-node10");
}

const struct test vnuma_tests[] = {
	TEST(test_node_add_ok),
	TEST(test_node_add_refused_by_qemu),
	TEST(test_node_add_failed_in_guest),
	TEST(test_node_add_backend_refused),
	TEST(test_node_add_partial),
	TEST(test_node_add_bad_input),
	TEST(test_node_add_timeout),
	TEST(test_node_remove),
	TEST(test_relayout_wait),
	TEST(test_relayout_drain_timeout),
	TEST(test_relayout_refused),
	TEST(test_report),
	TEST(test_check_ranges),
	TEST(test_backend_name),
	{ 0 }
};
