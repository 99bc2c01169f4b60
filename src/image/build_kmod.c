/* Kernel modules for the guest: which files, in which load order.
 *
 * Debian's kernel package ships modules.order and modules.builtin but not
 * modules.dep (depmod writes it at install time), so the dependencies come
 * from each module's own .modinfo section ("depends=a,b"), which modpost wrote
 * from the module's undefined symbols when the kernel was built: the same
 * graph depmod would compute. */
#include "image/image.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"

#define KMOD_MAX_MODULES 512
#define KMOD_MAX_DEPTH 64
#define KMOD_MAX_LINE 1024
#define KMOD_MAX_NAME 64
#define KMOD_MAX_DEPENDS 4096

void image_kmod_free_array(struct image_kmod *mods, size_t n)
{
    if (mods == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(mods[i].name);
        free(mods[i].path);
    }
    free(mods);
}

/* "kernel/drivers/virtio/virtio-mmio.ko" -> "virtio_mmio"; false when the
 * line is not a module path we accept. */
static bool name_from_path(const char *path, size_t len, char name[KMOD_MAX_NAME + 1])
{
    if (len == 0 || len > KMOD_MAX_LINE || path[0] == '/')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = path[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                  c == '-' || c == '.' || c == '/' || c == '+' || c == ',';
        if (!ok)
            return false;
        if (c == '.' && i + 1 < len && path[i + 1] == '.')
            return false;
    }
    const char *base = path;
    for (size_t i = 0; i < len; i++)
        if (path[i] == '/')
            base = path + i + 1;
    size_t blen = (size_t)(path + len - base);
    if (blen < 4 || memcmp(base + blen - 3, ".ko", 3) != 0)
        return false;
    size_t nlen = blen - 3;
    if (nlen == 0 || nlen > KMOD_MAX_NAME)
        return false;
    for (size_t i = 0; i < nlen; i++)
        name[i] = base[i] == '-' ? '_' : base[i];
    name[nlen] = '\0';
    return true;
}

static void canonical(char *s)
{
    for (; *s; s++)
        if (*s == '-')
            *s = '_';
}

/* Finds name's line in a modules.order/modules.builtin text; fills path when
 * found. Lines that are not module paths are ignored. */
static bool find_module(const char *text, const char *name, char **path)
{
    const char *p = text;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char n[KMOD_MAX_NAME + 1];
        if (name_from_path(p, len, n) && strcmp(n, name) == 0) {
            if (path != NULL)
                *path = strndup(p, len);
            return true;
        }
        p = nl ? nl + 1 : NULL;
    }
    return false;
}

struct resolve_ctx {
    const char *order;
    const char *builtin;
    image_kmod_depends_fn depends_of;
    void *ctx;
    struct image_kmod *mods;
    size_t n;
    /* names on the current path (cycle check) and names already placed or built in */
    char *stack[KMOD_MAX_DEPTH];
    size_t depth;
    char **seen;
    size_t n_seen;
};

static bool in_list(char *const *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], name) == 0)
            return true;
    return false;
}

static int seen_add(struct resolve_ctx *r, const char *name, struct error *err)
{
    char **nseen = realloc(r->seen, (r->n_seen + 1) * sizeof(*nseen));
    if (nseen == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    r->seen = nseen;
    if ((r->seen[r->n_seen] = strdup(name)) == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    r->n_seen++;
    return 0;
}

static int visit(struct resolve_ctx *r, const char *name, struct error *err)
{
    if (in_list(r->seen, r->n_seen, name))
        return 0;
    if (in_list(r->stack, r->depth, name))
        return error_set(err, ERR_INVALID_ARGUMENT, "module dependency cycle through %s", name);
    if (r->depth >= KMOD_MAX_DEPTH)
        return error_set(err, ERR_OUT_OF_RANGE, "module dependencies nest deeper than %d", KMOD_MAX_DEPTH);
    if (r->n_seen >= KMOD_MAX_MODULES)
        return error_set(err, ERR_OUT_OF_RANGE, "more than %d modules", KMOD_MAX_MODULES);

    cleanup_free char *path = NULL;
    if (!find_module(r->order, name, &path)) {
        if (r->builtin != NULL && find_module(r->builtin, name, NULL)) {
            return seen_add(r, name, err); /* built into the kernel: nothing to load */
        }
        return error_set(err, ERR_NOT_FOUND, "kernel module %s is neither in modules.order nor built in", name);
    }
    if (path == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");

    cleanup_free char *deps = NULL;
    if (r->depends_of(path, &deps, r->ctx, err) < 0)
        return error_prefix(err, "module %s", name);
    if (strlen(deps) > KMOD_MAX_DEPENDS)
        return error_set(err, ERR_OUT_OF_RANGE, "module %s: depends list is too long", name);

    r->stack[r->depth++] = (char *)name;
    char *save = NULL;
    for (char *d = strtok_r(deps, ",", &save); d != NULL; d = strtok_r(NULL, ",", &save)) {
        char dep[KMOD_MAX_NAME + 1];
        size_t dl = strlen(d);
        if (dl == 0 || dl > KMOD_MAX_NAME) {
            r->depth--;
            return error_set(err, ERR_INVALID_ARGUMENT, "module %s: bad dependency name", name);
        }
        memcpy(dep, d, dl + 1);
        canonical(dep);
        if (visit(r, dep, err) < 0) {
            r->depth--;
            return -1;
        }
    }
    r->depth--;

    if (seen_add(r, name, err) < 0)
        return -1;
    struct image_kmod *nm = realloc(r->mods, (r->n + 1) * sizeof(*nm));
    if (nm == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    r->mods = nm;
    r->mods[r->n].name = strdup(name);
    r->mods[r->n].path = steal_pointer(&path);
    r->n++;
    if (r->mods[r->n - 1].name == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    return 0;
}

int image_kmod_resolve(const char *modules_order, const char *modules_builtin,
                       const char *const *wanted, size_t n_wanted, image_kmod_depends_fn depends_of,
                       void *ctx, struct image_kmod **out, size_t *n_out, struct error *err)
{
    *out = NULL;
    *n_out = 0;
    struct resolve_ctx r = {.order = modules_order, .builtin = modules_builtin, .depends_of = depends_of, .ctx = ctx};
    int rc = 0;
    for (size_t i = 0; i < n_wanted && rc == 0; i++) {
        char name[KMOD_MAX_NAME + 1];
        size_t len = strlen(wanted[i]);
        if (len == 0 || len > KMOD_MAX_NAME) {
            rc = error_set(err, ERR_INVALID_ARGUMENT, "bad module name");
            break;
        }
        memcpy(name, wanted[i], len + 1);
        canonical(name);
        rc = visit(&r, name, err);
    }
    for (size_t i = 0; i < r.n_seen; i++)
        free(r.seen[i]);
    free(r.seen);
    if (rc < 0) {
        image_kmod_free_array(r.mods, r.n);
        return -1;
    }
    *out = r.mods;
    *n_out = r.n;
    return 0;
}

static void elf_endp(Elf **e)
{
    if (*e != NULL)
        elf_end(*e);
}

int image_kmod_read_depends(const char *ko_path, char **depends, struct error *err)
{
    *depends = NULL;
    if (elf_version(EV_CURRENT) == EV_NONE)
        return error_set(err, ERR_INTERNAL, "libelf: %s", elf_errmsg(-1));
    cleanup_close int fd = open(ko_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return error_set_errno(err, ERR_NOT_FOUND, "opening %s", ko_path);
    __attribute__((cleanup(elf_endp))) Elf *e = elf_begin(fd, ELF_C_READ, NULL);
    if (e == NULL || elf_kind(e) != ELF_K_ELF)
        return error_set(err, ERR_INVALID_ARGUMENT, "%s is not an ELF file", ko_path);
    size_t shstrndx;
    if (elf_getshdrstrndx(e, &shstrndx) != 0)
        return error_set(err, ERR_INVALID_ARGUMENT, "%s: %s", ko_path, elf_errmsg(-1));
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(e, scn)) != NULL) {
        GElf_Shdr sh;
        if (gelf_getshdr(scn, &sh) == NULL)
            return error_set(err, ERR_INVALID_ARGUMENT, "%s: %s", ko_path, elf_errmsg(-1));
        const char *name = elf_strptr(e, shstrndx, sh.sh_name);
        if (name == NULL || strcmp(name, ".modinfo") != 0)
            continue;
        Elf_Data *data = elf_getdata(scn, NULL);
        if (data == NULL || data->d_buf == NULL)
            return error_set(err, ERR_INVALID_ARGUMENT, "%s: empty .modinfo", ko_path);
        /* NUL-separated "key=value" strings; the last may lack its NUL. */
        const char *p = data->d_buf, *end = p + data->d_size;
        while (p < end) {
            const char *z = memchr(p, '\0', (size_t)(end - p));
            size_t len = z ? (size_t)(z - p) : (size_t)(end - p);
            if (len >= 8 && memcmp(p, "depends=", 8) == 0) {
                if (len - 8 > KMOD_MAX_DEPENDS)
                    return error_set(err, ERR_OUT_OF_RANGE, "%s: depends= is too long", ko_path);
                if ((*depends = strndup(p + 8, len - 8)) == NULL)
                    return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
                return 0;
            }
            p += len + 1;
        }
        /* a module without dependencies still has depends=; be lenient */
        if ((*depends = strdup("")) == NULL)
            return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
        return 0;
    }
    return error_set(err, ERR_INVALID_ARGUMENT, "%s has no .modinfo section", ko_path);
}
