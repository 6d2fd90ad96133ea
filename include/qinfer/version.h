/* SPDX-License-Identifier: Apache-2.0 */
/* qinfer's version, for C and C++: semantic versioning, with the changes of each release in
 * CHANGELOG.md. CMakeLists.txt reads the project's version from these lines. */
#ifndef QINFER_VERSION_H
#define QINFER_VERSION_H

#define QINFER_VERSION_MAJOR 0
#define QINFER_VERSION_MINOR 2
#define QINFER_VERSION_PATCH 0
/** major * 10000 + minor * 100 + patch, for comparisons in the preprocessor. */
#define QINFER_VERSION \
  (QINFER_VERSION_MAJOR * 10000 + QINFER_VERSION_MINOR * 100 + QINFER_VERSION_PATCH)

#endif /* QINFER_VERSION_H */
