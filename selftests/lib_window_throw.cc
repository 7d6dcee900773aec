// SPDX-License-Identifier: GPL-2.0
/*
 * For lib_window_test: a C++ exception thrown by a callback, unwound
 * through libsmem's window (C built with -fexceptions, whose cleanup ends
 * the window) and caught outside it.  Nothing here but the throw and the
 * catch; the test checks what the window left behind.
 */
#include <smem.h>

namespace {

struct thrown {
	int value;
};

int throw_read(const void *, size_t, void *)
{
	throw thrown{ 42 };
}

int throw_write(void *, size_t, void *)
{
	throw thrown{ 42 };
}

/* The outer window's callback: a window on the inner secret that throws. */
int nest_read(const void *, size_t, void *arg)
{
	return smem_secret_read(static_cast<smem_secret *>(arg), throw_read, nullptr);
}

int nest_write(void *, size_t, void *arg)
{
	return smem_secret_write(static_cast<smem_secret *>(arg), throw_write, nullptr);
}

} // namespace

extern "C" int lib_window_throw(smem_secret *outer, smem_secret *inner, int write, int *ret);

/*
 * A window on @outer (@write: a write window), with one on @inner nested in
 * it unless @inner is NULL, whose innermost callback throws.  0 when the
 * exception was caught here, outside the windows; 1 when the window
 * returned instead (its result in *@ret); 2 when something else came out.
 */
extern "C" int lib_window_throw(smem_secret *outer, smem_secret *inner, int write, int *ret)
{
	try {
		if (inner)
			*ret = write ? smem_secret_write(outer, nest_write, inner) :
				       smem_secret_read(outer, nest_read, inner);
		else
			*ret = write ? smem_secret_write(outer, throw_write, nullptr) :
				       smem_secret_read(outer, throw_read, nullptr);
	} catch (const thrown &t) {
		return t.value == 42 ? 0 : 2;
	} catch (...) {
		return 2;
	}
	return 1;
}
