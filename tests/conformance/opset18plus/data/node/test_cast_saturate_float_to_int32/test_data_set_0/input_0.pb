BxJ0pi‚BЕђ
BµуYBд;ЂB)Бb@џВ}ияA	gBќтB(KмAr®ВВ