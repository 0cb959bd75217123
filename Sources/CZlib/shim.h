#pragma once
// zlib inflates gzipped data sets (IDX files, the embedded digits CSV).
#include <zlib.h>
