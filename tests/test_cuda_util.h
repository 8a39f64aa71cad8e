/*
 * test_cuda_util.h — shared by the CUDA test files (built with NIB_CUDA):
 * NEED_DEVICE() skips a test, saying why, where there is no CUDA device, and
 * otherwise makes device 0 current.
 */
#ifndef NIB_TEST_CUDA_UTIL_H
#define NIB_TEST_CUDA_UTIL_H

#include "cuda_backend.h"

#include <gtest/gtest.h>

#define NEED_DEVICE()                                                                                      \
    do {                                                                                                   \
        if (nib_cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: the kernels compiled but cannot run here"; \
        nib_error e_ = {};                                                                                 \
        ASSERT_EQ(nib_cuda_use_device(0, &e_), NIB_OK) << e_.msg;                                          \
    } while (0)

#endif
