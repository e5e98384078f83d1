# Imported targets for the embedded R: R::R (libR), R::Rcpp (headers) and
# R::RInside. Paths come from the installed R itself, so the build follows
# whatever R_HOME the Debian packages put in place.
find_program(RSCRIPT Rscript REQUIRED)

function(mirai_r_query out expression)
    execute_process(
        COMMAND ${RSCRIPT} --vanilla -e "cat(${expression})"
        OUTPUT_VARIABLE value
        RESULT_VARIABLE status
        OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(NOT status EQUAL 0 OR value STREQUAL "")
        message(FATAL_ERROR "query R for '${expression}' failed: ${status}")
    endif()
    set(${out} "${value}" PARENT_SCOPE)
endfunction()

mirai_r_query(R_HOME_DIR "R.home()")
mirai_r_query(R_INCLUDE_DIR "R.home('include')")
mirai_r_query(RCPP_DIR "system.file(package = 'Rcpp')")
mirai_r_query(RINSIDE_DIR "system.file(package = 'RInside')")
if(RCPP_DIR STREQUAL "" OR RINSIDE_DIR STREQUAL "")
    message(FATAL_ERROR "R packages Rcpp and RInside are required")
endif()

# libR.so and libRInside.so carry no SONAME, so without IMPORTED_NO_SONAME
# the linker records their absolute build paths and ignores the rpath.
add_library(R::R SHARED IMPORTED GLOBAL)
set_target_properties(R::R PROPERTIES
    IMPORTED_LOCATION "${R_HOME_DIR}/lib/libR.so"
    IMPORTED_NO_SONAME TRUE
    INTERFACE_INCLUDE_DIRECTORIES "${R_INCLUDE_DIR}")

add_library(R::Rcpp INTERFACE IMPORTED GLOBAL)
set_target_properties(R::Rcpp PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${RCPP_DIR}/include"
    INTERFACE_LINK_LIBRARIES R::R)

add_library(R::RInside SHARED IMPORTED GLOBAL)
set_target_properties(R::RInside PROPERTIES
    IMPORTED_LOCATION "${RINSIDE_DIR}/lib/libRInside.so"
    IMPORTED_NO_SONAME TRUE
    INTERFACE_INCLUDE_DIRECTORIES "${RINSIDE_DIR}/include"
    INTERFACE_LINK_LIBRARIES R::Rcpp)

# Every executable that embeds R needs both library folders at run time.
set(MIRAI_R_RPATH "${R_HOME_DIR}/lib;${RINSIDE_DIR}/lib")
set(CMAKE_BUILD_RPATH "${MIRAI_R_RPATH}")
set(CMAKE_INSTALL_RPATH "${MIRAI_R_RPATH}")
