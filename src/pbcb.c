/*
 * pbcb.c - nanopb callbacks for the unbounded fields, and arena helpers.
 *
 * Layer: base (README, "Architecture").
 */
#include "pbcb.h"

#include <errno.h>
#include <pb_decode.h>
#include <pb_encode.h>

struct arena *pbcb_arena;
const char *pbcb_error;

bool pbcb_bytes(pb_istream_t *is, pb_ostream_t *os, const pb_field_t *field);
bool pbcb_strlist(pb_istream_t *is, pb_ostream_t *os, const pb_field_t *field);
bool pbcb_pidlist(pb_istream_t *is, pb_ostream_t *os, const pb_field_t *field);

/* Bytes fields (and fields we only skip, such as ttrpc metadata). */
bool pbcb_bytes(pb_istream_t *is, pb_ostream_t *os, const pb_field_t *field)
{
	struct pbbytes *b = field->pData;
	if (os) {
		if (!b->ptr || !b->len)
			return true;
		return pb_encode_tag_for_field(os, field) &&
		       pb_encode_string(os, b->ptr, b->len);
	}
	if (!is)
		return true;
	/* In place: every decode here reads from a buffer (pb_decode_arena)
	 * that outlives the message, so the field points into it. */
	size_t n = is->bytes_left;
	const uint8_t *p = is->state;
	if (!pb_read(is, NULL, n))
		return false;
	b->ptr = p;
	b->len = n;
	return true;
}

static void pbstrlist_link(struct pbstrlist *l, struct pbstr *e)
{
	if (l->tail)
		l->tail->next = e;
	else
		l->head = e;
	l->tail = e;
	l->n++;
}

int pbstrlist_add(struct arena *a, struct pbstrlist *l, const char *s, size_t n)
{
	struct pbstr *e = arena_alloc(a, sizeof(*e) + n + 1);
	if (!e)
		return -ENOMEM;
	memcpy(e->s, s, n);
	e->len = n;
	pbstrlist_link(l, e);
	return 0;
}

bool pbcb_strlist(pb_istream_t *is, pb_ostream_t *os, const pb_field_t *field)
{
	struct pbstrlist *l = field->pData;
	if (os) {
		for (struct pbstr *e = l->head; e; e = e->next)
			if (!pb_encode_tag_for_field(os, field) ||
			    !pb_encode_string(os, (const uint8_t *)e->s, e->len))
				return false;
		return true;
	}
	if (!is)
		return true;
	size_t n = is->bytes_left;
	if (n > 65536)
		PB_RETURN_ERROR(is, "string too long");
	struct pbstr *e = arena_alloc(pbcb_arena, sizeof(*e) + n + 1);
	if (!e)
		PB_RETURN_ERROR(is, "out of memory");
	if (!pb_read(is, (uint8_t *)e->s, n))
		return false;
	e->len = n;
	pbstrlist_link(l, e);
	return true;
}

/* ProcessInfo{1 pid, 2 Any info} with info = ProcessDetails{1 exec_id}. */
bool pbcb_pidlist(pb_istream_t *is, pb_ostream_t *os, const pb_field_t *field)
{
	static const char url[] = "containerd.runc.v1.ProcessDetails";
	const struct pbpidlist *l = field->pData;
	if (!os) {
		/* We never receive PidsResponse; skip whatever comes. */
		return is ? pb_read(is, NULL, is->bytes_left) : true;
	}
	for (unsigned i = 0; i < l->n; i++) {
		const struct pbpid *p = &l->v[i];
		uint8_t det[200], any[300], info[320];
		pb_ostream_t s;
		size_t anylen = 0;
		if (p->exec_id) {
			size_t el = strlen(p->exec_id);
			if (el > 128)
				el = 128;
			s = pb_ostream_from_buffer(det, sizeof(det));
			if (!pb_encode_tag(&s, PB_WT_STRING, 1) ||
			    !pb_encode_string(&s, (const uint8_t *)p->exec_id, el))
				return false;
			size_t dl = s.bytes_written;
			s = pb_ostream_from_buffer(any, sizeof(any));
			if (!pb_encode_tag(&s, PB_WT_STRING, 1) ||
			    !pb_encode_string(&s, (const uint8_t *)url,
					      sizeof(url) - 1) ||
			    !pb_encode_tag(&s, PB_WT_STRING, 2) ||
			    !pb_encode_string(&s, det, dl))
				return false;
			anylen = s.bytes_written;
		}
		s = pb_ostream_from_buffer(info, sizeof(info));
		if (p->pid && (!pb_encode_tag(&s, PB_WT_VARINT, 1) ||
			       !pb_encode_varint(&s, p->pid)))
			return false;
		if (anylen && (!pb_encode_tag(&s, PB_WT_STRING, 2) ||
			       !pb_encode_string(&s, any, anylen)))
			return false;
		if (!pb_encode_tag_for_field(os, field) ||
		    !pb_encode_string(os, info, s.bytes_written))
			return false;
	}
	return true;
}

int pb_decode_arena(struct arena *a, const void *buf, size_t len,
		    const pb_msgdesc_t *fields, void *dst)
{
	pb_istream_t is = pb_istream_from_buffer(buf, len);
	pbcb_arena = a;
	bool ok = pb_decode(&is, fields, dst);
	pbcb_arena = NULL;
	if (!ok) {
		pbcb_error = PB_GET_ERROR(&is);
		return -EINVAL;
	}
	return 0;
}

int pb_encode_arena(struct arena *a, const pb_msgdesc_t *fields, const void *src,
		    struct pbbytes *out)
{
	size_t n;
	if (!pb_get_encoded_size(&n, fields, src)) {
		pbcb_error = "cannot size message";
		return -EINVAL;
	}
	uint8_t *p = arena_alloc(a, n ? n : 1);
	if (!p)
		return -ENOMEM;
	pb_ostream_t os = pb_ostream_from_buffer(p, n);
	if (!pb_encode(&os, fields, src)) {
		pbcb_error = PB_GET_ERROR(&os);
		return -EINVAL;
	}
	out->ptr = p;
	out->len = os.bytes_written;
	return 0;
}

long pb_encode_buf(void *buf, size_t cap, const pb_msgdesc_t *fields, const void *src)
{
	pb_ostream_t os = pb_ostream_from_buffer(buf, cap);
	if (!pb_encode(&os, fields, src)) {
		pbcb_error = PB_GET_ERROR(&os);
		return -1;
	}
	return (long)os.bytes_written;
}

void pb_setstr(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strlen(src) : 0;
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src ? src : "", n);
	dst[n] = 0;
}
