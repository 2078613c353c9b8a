//! Report writers (see the helper).
