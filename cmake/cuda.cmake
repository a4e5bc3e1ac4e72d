# seqcore._cuda: the CUDA kernels in src/cuda/, one pybind11 module taking device pointers.
#
# AUTO builds it only when everything it needs is here (a CUDA compiler, the toolkit's runtime
# headers, cuBLAS) and otherwise says why in one status line; ON makes a missing piece an error.
string(TOUPPER "${SEQCORE_CUDA}" SEQCORE_CUDA_MODE)
if(SEQCORE_CUDA_MODE STREQUAL "OFF" OR SEQCORE_CUDA_MODE STREQUAL "FALSE" OR SEQCORE_CUDA_MODE STREQUAL "0")
  message(STATUS "seqcore: CUDA backend off (SEQCORE_CUDA=${SEQCORE_CUDA})")
  return()
endif()

function(seqcore_cuda_missing why)
  if(SEQCORE_CUDA_MODE STREQUAL "AUTO")
    message(STATUS "seqcore: building without the CUDA backend: ${why}")
  else()
    message(FATAL_ERROR "SEQCORE_CUDA=${SEQCORE_CUDA} but ${why}")
  endif()
endfunction()

include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  seqcore_cuda_missing("no CUDA compiler found (nvcc on PATH, or CUDACXX)")
  return()
endif()
find_package(CUDAToolkit QUIET)
if(NOT CUDAToolkit_FOUND)
  seqcore_cuda_missing("the CUDA toolkit beside ${CMAKE_CUDA_COMPILER} was not found")
  return()
endif()

# cuBLAS: the toolkit's, else SEQCORE_CUBLAS_ROOT's (e.g. the nvidia-cublas wheel's folder).
set(SEQCORE_CUBLAS_RPATH "")
if(SEQCORE_CUBLAS_ROOT)
  find_path(SEQCORE_CUBLAS_INCLUDE cublas_v2.h PATHS "${SEQCORE_CUBLAS_ROOT}/include" NO_DEFAULT_PATH)
  file(GLOB SEQCORE_CUBLAS_LIBS "${SEQCORE_CUBLAS_ROOT}/lib/libcublas.so*")
  list(SORT SEQCORE_CUBLAS_LIBS)
  if(NOT SEQCORE_CUBLAS_INCLUDE OR NOT SEQCORE_CUBLAS_LIBS)
    seqcore_cuda_missing("SEQCORE_CUBLAS_ROOT=${SEQCORE_CUBLAS_ROOT} has no include/cublas_v2.h and lib/libcublas.so*")
    return()
  endif()
  list(GET SEQCORE_CUBLAS_LIBS 0 SEQCORE_CUBLAS_LIB)
  add_library(seqcore_cublas SHARED IMPORTED)
  set_target_properties(seqcore_cublas PROPERTIES IMPORTED_LOCATION "${SEQCORE_CUBLAS_LIB}"
                                                  INTERFACE_INCLUDE_DIRECTORIES "${SEQCORE_CUBLAS_INCLUDE}")
  set(SEQCORE_CUBLAS_TARGET seqcore_cublas)
  set(SEQCORE_CUBLAS_RPATH "${SEQCORE_CUBLAS_ROOT}/lib")
elseif(TARGET CUDA::cublas)
  set(SEQCORE_CUBLAS_TARGET CUDA::cublas)
else()
  seqcore_cuda_missing("the CUDA toolkit at ${CUDAToolkit_LIBRARY_ROOT} has no cuBLAS (set SEQCORE_CUBLAS_ROOT)")
  return()
endif()

# Hopper (H100/H200) unless told otherwise: "90" is sm_90 machine code plus compute_90 PTX,
# which newer GPUs compile when they load it.  Older GPUs: -DCMAKE_CUDA_ARCHITECTURES=80 etc.
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES OR CMAKE_CUDA_ARCHITECTURES STREQUAL "")
  set(CMAKE_CUDA_ARCHITECTURES 90)
endif()
enable_language(CUDA)
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)

add_library(seqcore_cuda_kernels STATIC
  src/cuda/seqcore_cuda/gemm.cu
  src/cuda/seqcore_cuda/recurrent.cu
  src/cuda/seqcore_cuda/attention.cu
  src/cuda/seqcore_cuda/ops.cu
  src/cuda/seqcore_cuda/beam.cu)
target_include_directories(seqcore_cuda_kernels PUBLIC src/cuda)
target_link_libraries(seqcore_cuda_kernels PUBLIC CUDA::cudart_static ${SEQCORE_CUBLAS_TARGET})
set_target_properties(seqcore_cuda_kernels PROPERTIES POSITION_INDEPENDENT_CODE ON CUDA_RUNTIME_LIBRARY Static)
# -Wall -Wextra reach the host compiler through nvcc; the device side's own warnings are nvcc's.
target_compile_options(seqcore_cuda_kernels PRIVATE
  $<$<COMPILE_LANGUAGE:CUDA>:-O3 --expt-relaxed-constexpr -Xcompiler=-Wall,-Wextra>)
if(SEQCORE_SANITIZE)
  # compute-sanitizer reports source lines with -lineinfo; the host sanitizers don't mix with nvcc's code.
  target_compile_options(seqcore_cuda_kernels PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-lineinfo>)
endif()

pybind11_add_module(_cuda MODULE
  src/cuda/bindings/module.cpp
  src/cuda/bindings/recurrent.cpp
  src/cuda/bindings/attention.cpp
  src/cuda/bindings/ops.cpp
  src/cuda/bindings/beam.cpp)
target_link_libraries(_cuda PRIVATE seqcore_cuda_kernels)
target_compile_options(_cuda PRIVATE ${SEQCORE_WARNINGS})
string(REPLACE ";" "," SEQCORE_CUDA_ARCH_STRING "${CMAKE_CUDA_ARCHITECTURES}")
target_compile_definitions(_cuda PRIVATE SEQCORE_CUDA_ARCHITECTURES="${SEQCORE_CUDA_ARCH_STRING}")
if(SEQCORE_CUBLAS_RPATH)
  set_target_properties(_cuda PROPERTIES INSTALL_RPATH "${SEQCORE_CUBLAS_RPATH}" BUILD_RPATH "${SEQCORE_CUBLAS_RPATH}")
endif()
install(TARGETS _cuda LIBRARY DESTINATION seqcore)
message(STATUS "seqcore: CUDA backend on (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, architectures ${CMAKE_CUDA_ARCHITECTURES}, "
               "cuBLAS ${SEQCORE_CUBLAS_TARGET})")
