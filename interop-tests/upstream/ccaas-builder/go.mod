module weft.invalid/interop/ccaasbuilder

go 1.22
