// SPDX-License-Identifier: Apache-2.0
/*
 * watch(): readiness of a descriptor on the Node event loop (uv_poll_t; no
 * thread, no polling loop). The events watched (UV_READABLE, UV_WRITABLE,
 * UV_PRIORITIZED: EPOLLIN, EPOLLOUT, EPOLLPRI) are set at watch() and
 * changed by pollEvents(); with none the handle is stopped (it then keeps
 * no event loop alive). One watch per descriptor: libuv polls a descriptor
 * through one handle only.
 *
 * Each environment (main thread, each worker) has its own Watches: the
 * handles live on that environment's loop. A Watch is freed by its uv_close
 * callback; the callback touches no N-API state (the JS function reference
 * and the async context are dropped synchronously in unwatch), so it is
 * safe while the environment is being torn down. At teardown an async
 * cleanup hook closes what is left and tells Node it is done once the last
 * close callback has run: a worker's loop is then empty when Node closes it.
 */
#include <uv.h>

#include <unordered_map>
#include <vector>

#include "addon.h"

namespace agnocast {

namespace {

struct Watches;

struct Watch {
	uv_poll_t poll;
	Watches *owner;
	uint32_t id;
	int fd;
	int events;
	napi_ref callback;
	napi_async_context context;
};

struct Watches {
	napi_env env;
	uv_loop_t *loop;
	std::unordered_map<uint32_t, Watch *> live;
	uint32_t next_id = 1;
	size_t closing = 0;	/* handles whose close callback has not run */
	napi_async_cleanup_hook_handle hook = nullptr;
	bool tearing_down = false;
};

void OnClosed(uv_handle_t *handle)
{
	Watch *w = static_cast<Watch *>(handle->data);
	Watches *ws = w->owner;

	delete w;
	if (--ws->closing == 0 && ws->tearing_down) {
		napi_remove_async_cleanup_hook(ws->hook);
		delete ws;
	}
}

/* Drops the N-API state now, frees the handle in its close callback. */
void Close(Watch *w)
{
	napi_delete_reference(w->owner->env, w->callback);
	napi_async_destroy(w->owner->env, w->context);
	uv_poll_stop(&w->poll);
	w->owner->closing++;
	uv_close(reinterpret_cast<uv_handle_t *>(&w->poll), OnClosed);
}

void OnPoll(uv_poll_t *handle, int status, int events)
{
	Watch *w = static_cast<Watch *>(handle->data);
	napi_env env = w->owner->env;
	napi_handle_scope scope;
	napi_value cb, recv, arg, result;

	/*
	 * On an error libuv has stopped the handle: report "readable" once,
	 * so the reader runs into the error itself.
	 */
	if (status < 0)
		events = w->events ? w->events : UV_READABLE;
	if (napi_open_handle_scope(env, &scope) != napi_ok)
		return;
	if (napi_get_reference_value(env, w->callback, &cb) == napi_ok && cb &&
	    /* napi_make_callback wants an object as receiver (undefined: TypeError). */
	    napi_get_global(env, &recv) == napi_ok &&
	    napi_create_int32(env, events, &arg) == napi_ok) {
		/* w may be closed by the callback (unwatch): do not touch it after. */
		if (napi_make_callback(env, w->context, recv, cb, 1, &arg, &result) ==
		    napi_pending_exception) {
			napi_value err;
			if (napi_get_and_clear_last_exception(env, &err) == napi_ok)
				napi_fatal_exception(env, err);	/* 'uncaughtException' */
		}
	}
	napi_close_handle_scope(env, scope);
}

void Teardown(napi_async_cleanup_hook_handle hook, void *arg)
{
	Watches *ws = static_cast<Watches *>(arg);

	ws->hook = hook;
	ws->tearing_down = true;
	for (auto &kv : ws->live)
		Close(kv.second);
	ws->live.clear();
	if (ws->closing == 0) {
		napi_remove_async_cleanup_hook(hook);
		delete ws;
	}
}

Watches *Get(napi_env env)
{
	void *data = nullptr;
	napi_get_instance_data(env, &data);
	return static_cast<Watches *>(data);
}

Napi::Value WatchFn(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int32_t fd = ArgI32(info, 0, "fd");
	Napi::Function fn = ArgFunction(info, 1, "onReadable");
	bool ref = ArgBool(info, 2, "ref");
	int events = UV_READABLE;
	Watches *ws = Get(env);

	if (info.Length() > 3 && !info[3].IsUndefined()) {
		events = static_cast<int>(ArgU32(info, 3, "events"));
		if (events & ~(UV_READABLE | UV_WRITABLE | UV_PRIORITIZED))
			ThrowErrno(env, EINVAL, "uv_poll_start", "events: UV_READABLE (1), UV_WRITABLE (2), UV_PRIORITIZED (8)");
	}
	if (fd < 0)
		ThrowErrno(env, EBADF, "uv_poll_init");
	Watch *w = new Watch{};
	w->owner = ws;
	w->fd = fd;
	w->events = events;
	int r = uv_poll_init(ws->loop, &w->poll, fd);
	if (r < 0) {
		delete w;
		ThrowErrno(env, -r, "uv_poll_init");
	}
	w->poll.data = w;
	/* From here on the handle must be closed, never just deleted. */
	napi_status st = napi_create_reference(env, fn, 1, &w->callback);
	if (st == napi_ok)
		st = napi_async_init(env, nullptr, Napi::String::New(env, "agnocast:watch"),
				     &w->context);
	if (st == napi_ok && events && (r = uv_poll_start(&w->poll, events, OnPoll)) < 0) {
		Close(w);
		ThrowErrno(env, -r, "uv_poll_start");
	}
	if (st != napi_ok) {
		if (w->callback)
			napi_delete_reference(env, w->callback);
		ws->closing++;
		uv_close(reinterpret_cast<uv_handle_t *>(&w->poll), OnClosed);
		NAPI_THROW_IF_FAILED(env, st, Napi::Value());
	}
	if (!ref)
		uv_unref(reinterpret_cast<uv_handle_t *>(&w->poll));
	w->id = ws->next_id++;
	ws->live[w->id] = w;
	return Napi::Number::New(env, w->id);
}

/* Unknown (or already unwatched) handles are ignored: closing twice is fine. */
Napi::Value UnwatchFn(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	uint32_t id = ArgU32(info, 0, "handle");
	Watches *ws = Get(env);
	auto it = ws->live.find(id);

	if (it != ws->live.end()) {
		Watch *w = it->second;
		ws->live.erase(it);
		Close(w);
	}
	return env.Undefined();
}

/* Changes what a watch waits for; 0 stops it until the next change. */
Napi::Value PollEventsFn(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	uint32_t id = ArgU32(info, 0, "handle");
	int events = static_cast<int>(ArgU32(info, 1, "events"));
	Watches *ws = Get(env);
	auto it = ws->live.find(id);

	if (events & ~(UV_READABLE | UV_WRITABLE | UV_PRIORITIZED))
		ThrowErrno(env, EINVAL, "uv_poll_start", "events: UV_READABLE (1), UV_WRITABLE (2), UV_PRIORITIZED (8)");
	if (it == ws->live.end())
		return env.Undefined();
	Watch *w = it->second;
	if (events == w->events)
		return env.Undefined();
	int r = events ? uv_poll_start(&w->poll, events, OnPoll) : uv_poll_stop(&w->poll);
	if (r < 0)
		ThrowErrno(env, -r, "uv_poll_start");
	w->events = events;
	return env.Undefined();
}

Napi::Value RefWatchFn(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	uint32_t id = ArgU32(info, 0, "handle");
	bool ref = ArgBool(info, 1, "ref");
	Watches *ws = Get(env);
	auto it = ws->live.find(id);

	if (it != ws->live.end()) {
		uv_handle_t *h = reinterpret_cast<uv_handle_t *>(&it->second->poll);
		if (ref)
			uv_ref(h);
		else
			uv_unref(h);
	}
	return env.Undefined();
}

}  // namespace

void StopWatchesOnFd(napi_env env, int fd)
{
	Watches *ws = Get(env);
	std::vector<Watch *> hits;

	for (auto &kv : ws->live)
		if (kv.second->fd == fd)
			hits.push_back(kv.second);
	for (Watch *w : hits) {
		ws->live.erase(w->id);
		Close(w);
	}
}

void InitWatch(Napi::Env env, Napi::Object exports)
{
	Watches *ws = new Watches{};
	ws->env = env;
	NAPI_THROW_IF_FAILED_VOID(env, napi_get_uv_event_loop(env, &ws->loop));
	/* Owned by the cleanup hook, not by the instance data (no finalizer). */
	NAPI_THROW_IF_FAILED_VOID(env, napi_set_instance_data(env, ws, nullptr, nullptr));
	NAPI_THROW_IF_FAILED_VOID(env, napi_add_async_cleanup_hook(env, Teardown, ws, &ws->hook));

	exports.Set("watch", Napi::Function::New(env, WatchFn, "watch"));
	exports.Set("unwatch", Napi::Function::New(env, UnwatchFn, "unwatch"));
	exports.Set("pollEvents", Napi::Function::New(env, PollEventsFn, "pollEvents"));
	exports.Set("refWatch", Napi::Function::New(env, RefWatchFn, "refWatch"));
}

}  // namespace agnocast
