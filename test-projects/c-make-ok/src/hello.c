#include <stdio.h>
#include "greet.h"

int main(void) {
    printf("%s, built %s %s\n", greeting(), __DATE__, __TIME__);
    return 0;
}
