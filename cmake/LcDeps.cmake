# Finds the small C libraries layercast links besides OpenBLAS and defines
# imported targets for them.  Used by the build and by the installed
# layercastConfig.cmake (the static library needs them at link time).
#   lc::jansson  JSON (libjansson-dev): config.json, index files, run records
#   lc::xxhash   hashing (libxxhash-dev): output hashes in run records
#   lc::pcre2    regexes (libpcre2-dev, the 8-bit library): tokenizer pre-tokenizers
#   lc::utf8proc Unicode data (libutf8proc-dev): NFC and friends for tokenizers
# pkg-config first, then a plain search, which the device machine's prelude
# (CMAKE_INCLUDE_PATH/CMAKE_LIBRARY_PATH) relies on.
find_package(PkgConfig QUIET)
foreach(dep jansson xxhash pcre2 utf8proc)
  if(TARGET lc::${dep})
    continue()
  endif()
  if(dep STREQUAL "jansson")
    set(_pc jansson)
    set(_hdr jansson.h)
    set(_lib jansson)
  elseif(dep STREQUAL "xxhash")
    set(_pc libxxhash)
    set(_hdr xxhash.h)
    set(_lib xxhash)
  elseif(dep STREQUAL "pcre2")
    set(_pc libpcre2-8)
    set(_hdr pcre2.h)
    set(_lib pcre2-8)
  else()
    set(_pc libutf8proc)
    set(_hdr utf8proc.h)
    set(_lib utf8proc)
  endif()
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(LC_PC_${dep} QUIET ${_pc})
  endif()
  find_path(LC_${dep}_INCLUDE_DIR ${_hdr} HINTS ${LC_PC_${dep}_INCLUDE_DIRS})
  find_library(LC_${dep}_LIBRARY NAMES ${_lib} HINTS ${LC_PC_${dep}_LIBRARY_DIRS})
  if(LC_${dep}_INCLUDE_DIR AND LC_${dep}_LIBRARY)
    add_library(lc::${dep} UNKNOWN IMPORTED)
    set_target_properties(lc::${dep} PROPERTIES
      IMPORTED_LOCATION "${LC_${dep}_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${LC_${dep}_INCLUDE_DIR}")
    set(LC_${dep}_FOUND TRUE)
  else()
    set(LC_${dep}_FOUND FALSE)
  endif()
endforeach()
