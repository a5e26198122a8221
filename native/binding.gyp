# SPDX-License-Identifier: Apache-2.0
#
# The agnocast addon: build with `npx node-gyp rebuild` in this directory
# (~/.npmrc or --nodedir=/usr points node-gyp at the system's Node headers).
# Output: build/Release/agnocast.node, loaded by src/native.ts.
{
  'targets': [{
    'target_name': 'agnocast',
    'sources': [
      'src/addon.cc',
      'src/device.cc',
      'src/errors.cc',
      'src/introspect.cc',
      'src/memory.cc',
      'src/mqueue.cc',
      'src/pidfd.cc',
      'src/topics.cc',
      'src/watch.cc',
      # The heaphook's allocator, compiled in as C for processes that join
      # without the LD_PRELOAD heaphook (flags as in heaphook/pool.mk).
      '../heaphook/pool_alloc.c',
      '../heaphook/pool_thread.c',
    ],
    'include_dirs': [
      "<!(node -p \"require('node-addon-api').include_dir\")",
      '../kmod/uapi',
      '../heaphook',
    ],
    'defines': [
      'NAPI_VERSION=8',
      'NAPI_CPP_EXCEPTIONS',
      'NODE_ADDON_API_DISABLE_DEPRECATED',
    ],
    'cflags': [ '-Wall', '-Wextra', '-Werror', '-pthread', '-fvisibility=hidden' ],
    'cflags!': [ '-fno-exceptions' ],
    'cflags_c': [ '-std=gnu11', '-O2' ],
    'cflags_cc': [ '-fexceptions' ],
    'cflags_cc!': [ '-fno-exceptions' ],
    'ldflags': [ '-pthread' ],
    'libraries': [ '-lrt', '-ldl' ],
  }],
}
