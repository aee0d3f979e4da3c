# Finds OpenBLAS (the library and its cblas.h) and defines the imported target
# lc::openblas.  Used by the build and by the installed layercastConfig.cmake.
# pkg-config first (Debian ships openblas.pc), then a plain search, which is
# what the device machine's prelude (CMAKE_INCLUDE_PATH/CMAKE_LIBRARY_PATH)
# relies on.
if(NOT TARGET lc::openblas)
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(LC_PC_OPENBLAS QUIET openblas)
  endif()
  find_path(LC_OPENBLAS_INCLUDE_DIR cblas.h
    HINTS ${LC_PC_OPENBLAS_INCLUDE_DIRS}
    PATH_SUFFIXES openblas-pthread openblas x86_64-linux-gnu/openblas-pthread)
  find_library(LC_OPENBLAS_LIBRARY NAMES openblas
    HINTS ${LC_PC_OPENBLAS_LIBRARY_DIRS}
    PATH_SUFFIXES openblas-pthread)
  if(LC_OPENBLAS_INCLUDE_DIR AND LC_OPENBLAS_LIBRARY)
    add_library(lc::openblas UNKNOWN IMPORTED)
    set_target_properties(lc::openblas PROPERTIES
      IMPORTED_LOCATION "${LC_OPENBLAS_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${LC_OPENBLAS_INCLUDE_DIR}")
    set(LC_OPENBLAS_FOUND TRUE)
  else()
    set(LC_OPENBLAS_FOUND FALSE)
  endif()
endif()
