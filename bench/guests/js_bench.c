/* Benchmark guest: QuickJS-ng (from the rquickjs-sys crate) running a fixed
 * script: a sieve on a typed array, a Map of objects, JSON both ways and a
 * recursive function. Prints one line of results. */
#include <stdio.h>
#include <string.h>
#include "quickjs.h"

static const char script[] =
    "function sieve(n){const a=new Uint8Array(n+1);let c=0;"
    "for(let i=2;i<=n;i++){if(!a[i]){c++;for(let j=i*i;j<=n;j+=i)a[j]=1;}}return c;}\n"
    "function objs(n){const m=new Map();for(let i=0;i<n;i++)m.set('k'+i,{i:i,s:String(i).repeat(3)});"
    "let t=0;for(const [k,v] of m)t+=v.s.length;return t;}\n"
    "function json(n){const o=[];for(let i=0;i<n;i++)o.push({id:i,name:'item'+i,tags:['a','b',i%7]});"
    "const s=JSON.stringify(o);return JSON.parse(s).length+s.length;}\n"
    "function fib(n){return n<2?n:fib(n-1)+fib(n-2);}\n"
    "print([sieve(1000000),objs(80000),json(40000),fib(25)].join(' '));\n";

static JSValue js_print(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    (void)this_val;
    for (int i = 0; i < argc; i++) {
        const char *s = JS_ToCString(ctx, argv[i]);
        if (!s)
            return JS_EXCEPTION;
        fputs(s, stdout);
        JS_FreeCString(ctx, s);
    }
    fputc('\n', stdout);
    return JS_UNDEFINED;
}

int main(void)
{
    JSRuntime *rt = JS_NewRuntime();
    JSContext *ctx = rt ? JS_NewContext(rt) : NULL;
    if (!ctx)
        return 1;
    JSValue global = JS_GetGlobalObject(ctx);
    JS_SetPropertyStr(ctx, global, "print", JS_NewCFunction(ctx, js_print, "print", 1));
    JS_FreeValue(ctx, global);
    JSValue v = JS_Eval(ctx, script, strlen(script), "<bench>", JS_EVAL_TYPE_GLOBAL);
    int rc = 0;
    if (JS_IsException(v)) {
        JSValue e = JS_GetException(ctx);
        const char *s = JS_ToCString(ctx, e);
        fprintf(stderr, "js_bench: %s\n", s ? s : "exception");
        JS_FreeCString(ctx, s);
        JS_FreeValue(ctx, e);
        rc = 1;
    }
    JS_FreeValue(ctx, v);
    JS_FreeContext(ctx);
    JS_FreeRuntime(rt);
    return rc;
}
