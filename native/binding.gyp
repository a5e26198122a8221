# SPDX-License-Identifier: Apache-2.0
#
# The agnocast addon: build with `npx node-gyp rebuild` in this directory
# (~/.npmrc or --nodedir=/usr points node-gyp at the system's Node headers).
# Output: build/Release/agnocast.node, loaded by src/native.ts.
#
# The addon compiles libagnocast in, from the library's one list of
# sources (../libagnocast/sources.mk, every word ending in ".c"). No
# -Werror here: this is the build a user's `npm install` runs; the
# project's own build of the same sources (make -C libagnocast) has it.
{
  'targets': [{
    'target_name': 'agnocast',
    'sources': [
      'src/addon.cc',
      'src/endpoints.cc',
      'src/errors.cc',
      'src/introspect.cc',
      'src/join.cc',
      'src/memory.cc',
      'src/pools.cc',
      'src/watch.cc',
      "<!@(node -e \"const s = new Set(require('fs').readFileSync('../libagnocast/sources.mk', 'utf8').split(/\\s+/).filter((w) => w.endsWith('.c'))); for (const f of s) console.log('../libagnocast/' + f)\")",
    ],
    'include_dirs': [
      "<!(node -p \"require('node-addon-api').include_dir\")",
      '../kmod/uapi',
      '../libagnocast',
    ],
    'defines': [
      'NAPI_VERSION=8',
      'NAPI_CPP_EXCEPTIONS',
      'NODE_ADDON_API_DISABLE_DEPRECATED',
    ],
    'cflags': [ '-Wall', '-Wextra', '-pthread', '-fvisibility=hidden' ],
    'cflags!': [ '-fno-exceptions' ],
    'cflags_c': [ '-std=gnu11', '-O2' ],
    'cflags_cc': [ '-fexceptions' ],
    'cflags_cc!': [ '-fno-exceptions' ],
    'ldflags': [ '-pthread' ],
    'libraries': [ '-lrt', '-ldl' ],
  }],
}
