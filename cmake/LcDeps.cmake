# Finds the small C libraries layercast links besides OpenBLAS and defines
# imported targets for them.  Used by the build and by the installed
# layercastConfig.cmake (the static library needs them at link time).
#   lc::jansson  JSON (libjansson-dev): config.json, index files, run records
#   lc::xxhash   hashing (libxxhash-dev): output hashes in run records
# pkg-config first, then a plain search, which the device machine's prelude
# (CMAKE_INCLUDE_PATH/CMAKE_LIBRARY_PATH) relies on.
find_package(PkgConfig QUIET)
foreach(dep jansson xxhash)
  if(TARGET lc::${dep})
    continue()
  endif()
  if(dep STREQUAL "jansson")
    set(_pc jansson)
    set(_hdr jansson.h)
    set(_lib jansson)
  else()
    set(_pc libxxhash)
    set(_hdr xxhash.h)
    set(_lib xxhash)
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
