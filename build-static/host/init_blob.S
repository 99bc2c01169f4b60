.section .rodata
.global enclave_init_blob
.global enclave_init_blob_end
.balign 16
enclave_init_blob:
.incbin "build-static/enclave-init"
enclave_init_blob_end:
.section .note.GNU-stack,"",@progbits
